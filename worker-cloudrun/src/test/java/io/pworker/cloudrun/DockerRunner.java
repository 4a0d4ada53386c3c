package io.pworker.cloudrun;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.command.WaitContainerResultCallback;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.exception.NotModifiedException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.HostConfig;
import io.pworker.testkit.DockerTestEngine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.IntConsumer;

/**
 * Runs an execution's task as a container on the real engine: the job's command and args in the busybox test
 * image (the job's own image cannot be pulled here), its plain environment, no network. The container's exit
 * code is what the fake turns into the execution's conditions. Every container carries this runner's label and
 * is removed by it; nothing else on the shared engine is touched.
 */
final class DockerRunner implements FakeCloudRun.Runner {

    static final String LABEL = "io.pworker.test.cloudrun-fake";
    /** Cloud Run's own grace between SIGTERM and SIGKILL is 10 s; shorter keeps the tests short. */
    private static final int STOP_SECONDS = 2;

    private final DockerClient docker;
    private final String id = UUID.randomUUID().toString();

    DockerRunner(DockerTestEngine engine) {
        this.docker = engine.client();
    }

    @Override
    public FakeCloudRun.RunningTask start(String execution, com.google.cloud.run.v2.Container container, IntConsumer onExit) {
        List<String> cmd = new ArrayList<>(container.getCommandList());
        cmd.addAll(container.getArgsList());
        String cid = docker.createContainerCmd(DockerTestEngine.IMAGE)
                .withCmd(cmd)
                .withEnv(FakeCloudRun.environment(container).entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList())
                .withLabels(Map.of(LABEL, id, LABEL + ".execution", execution.substring(execution.lastIndexOf('/') + 1),
                        LABEL + ".image", container.getImage()))
                .withHostConfig(HostConfig.newHostConfig().withNetworkMode("none"))
                .exec().getId();
        docker.startContainerCmd(cid).exec();
        Thread waiter = Thread.ofVirtual().name("fake-wait-" + cid.substring(0, 12)).start(() -> {
            int code;
            try {
                code = docker.waitContainerCmd(cid).exec(new WaitContainerResultCallback()).awaitStatusCode();
            } catch (RuntimeException e) {
                code = 137;
            }
            remove(cid);
            onExit.accept(code);
        });
        return () -> {
            try {
                docker.stopContainerCmd(cid).withTimeout(STOP_SECONDS).exec();
            } catch (NotFoundException | NotModifiedException e) {
                // ended already
            }
            try {
                waiter.join(Duration.ofSeconds(STOP_SECONDS + 10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }

    List<Container> containers() {
        return docker.listContainersCmd().withShowAll(true).withLabelFilter(Map.of(LABEL, id)).exec();
    }

    private void remove(String cid) {
        try {
            docker.removeContainerCmd(cid).withForce(true).exec();
        } catch (NotFoundException | com.github.dockerjava.api.exception.ConflictException e) {
            // gone already, or being removed by the other caller
        }
    }

    /** Removes whatever of ours is left (a test that failed half-way). */
    @Override
    public void close() {
        containers().forEach(c -> remove(c.getId()));
    }
}
