package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.command.WaitContainerResultCallback;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Container;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.HostConfig;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A kubelet that runs each pod's {@code prefect-job} container on a real Docker engine: the pod's image, command,
 * args and environment (Secrets resolved), on the host's network so that a flow run reaches a Prefect API on
 * loopback, and with an init process so that signals reach the shell as they would in a pod. The exit code the
 * pod reports is the container's. Images are never pulled (no registry is reachable): a missing image is an
 * image pull failure, as on a node that cannot reach its registry.
 */
final class DockerKubelet implements Kubelet {

    static final String LABEL = "io.pworker.fake-kubernetes";

    private final DockerClient docker;
    /** Containers of this kubelet carry this value in {@link #LABEL}, so clean-up removes only its own. */
    private final String id = UUID.randomUUID().toString().substring(0, 8);
    private final Map<String, String> containers = new ConcurrentHashMap<>();
    /** When each stopping pod's container gets SIGKILL (nanoTime); a shorter grace moves it closer. */
    private final Map<String, Long> killAt = new ConcurrentHashMap<>();
    /** Pods deleted before their container existed: a container made for one afterwards is removed at once. */
    private final java.util.Set<String> stopped = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    DockerKubelet(DockerClient docker) {
        this.docker = docker;
    }

    @Override
    public void start(FakeKubernetes cluster, String namespace, String name, ObjectNode spec) {
        Thread.ofVirtual().name("kubelet-" + name).start(() -> run(cluster, namespace, name, spec));
    }

    private void run(FakeKubernetes cluster, String namespace, String name, ObjectNode spec) {
        JsonNode c = spec.at("/containers/0");
        String image = c.path("image").asText();
        try {
            docker.inspectImageCmd(image).exec();
        } catch (NotFoundException e) {
            cluster.updatePod(namespace, name, s -> PodStatus.waiting(s, image, "ErrImagePull",
                    "failed to pull and unpack image \"" + image + "\": dial tcp: lookup registry: no such host"));
            sleep(Duration.ofMillis(500));
            cluster.updatePod(namespace, name, s -> PodStatus.waiting(s, image, "ImagePullBackOff",
                    "Back-off pulling image \"" + image + "\""));
            return;
        }
        List<String> env = new ArrayList<>();
        for (JsonNode e : c.path("env")) {
            String value = e.has("valueFrom") ? secretRef(cluster, namespace, e.at("/valueFrom/secretKeyRef"))
                    : e.path("value").asText("");
            if (value == null) {
                configError(cluster, namespace, name, image, e.at("/valueFrom/secretKeyRef/name").asText());
                return;
            }
            env.add(e.path("name").asText() + "=" + value);
        }
        for (JsonNode from : c.path("envFrom")) {
            Map<String, String> data = cluster.secretData(namespace, from.at("/secretRef/name").asText());
            if (data == null) {
                configError(cluster, namespace, name, image, from.at("/secretRef/name").asText());
                return;
            }
            data.forEach((k, v) -> env.add(k + "=" + v));
        }
        CreateContainerCmd create = docker.createContainerCmd(image).withName("pworker-k8s-" + id + "-" + name)
                .withLabels(Map.of(LABEL, id)).withEnv(env)
                .withHostConfig(HostConfig.newHostConfig().withNetworkMode("host").withInit(true));
        if (c.path("command").isArray() && !c.path("command").isEmpty()) {
            create.withEntrypoint(strings(c.path("command")));
        }
        if (c.path("args").isArray() && !c.path("args").isEmpty()) {
            create.withCmd(strings(c.path("args")));
        }
        String containerId = create.exec().getId();
        containers.put(namespace + "/" + name, containerId);
        if (closed || stopped.contains(namespace + "/" + name)) {
            docker.removeContainerCmd(containerId).withForce(true).exec();
            return;
        }
        docker.startContainerCmd(containerId).exec();
        cluster.updatePod(namespace, name, s -> PodStatus.running(s, image, containerId));
        int code = docker.waitContainerCmd(containerId).exec(new WaitContainerResultCallback())
                .awaitStatusCode(10, TimeUnit.MINUTES);
        cluster.updatePod(namespace, name, s -> PodStatus.exited(s, image, containerId, code, null));
    }

    private static String secretRef(FakeKubernetes cluster, String namespace, JsonNode ref) {
        return cluster.secretValue(namespace, ref.path("name").asText(), ref.path("key").asText());
    }

    private static void configError(FakeKubernetes cluster, String namespace, String name, String image, String secret) {
        cluster.updatePod(namespace, name, s -> PodStatus.waiting(s, image, "CreateContainerConfigError",
                "secret \"" + secret + "\" not found"));
    }

    @Override
    public void stop(String namespace, String name, Duration grace) {
        String key = namespace + "/" + name;
        stopped.add(key);
        String containerId = containers.get(key);
        if (containerId == null) {
            return;
        }
        long deadline = System.nanoTime() + grace.toNanos();
        Long previous = killAt.get(key);
        killAt.merge(key, deadline, Math::min);
        if (previous != null) {
            return;
        }
        Thread.ofVirtual().name("kubelet-stop-" + name).start(() -> {
            try {
                docker.killContainerCmd(containerId).withSignal("TERM").exec();
            } catch (RuntimeException e) {
                return; // already exited
            }
            while (System.nanoTime() < killAt.get(key)) {
                if (!Boolean.TRUE.equals(running(containerId))) {
                    return;
                }
                sleep(Duration.ofMillis(100));
            }
            try {
                docker.killContainerCmd(containerId).exec();
            } catch (RuntimeException e) {
                // exited in the meantime
            }
        });
    }

    private Boolean running(String containerId) {
        try {
            return docker.inspectContainerCmd(containerId).exec().getState().getRunning();
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    public String logs(String namespace, String name) {
        String containerId = containers.get(namespace + "/" + name);
        if (containerId == null) {
            return "";
        }
        StringBuilder out = new StringBuilder();
        try {
            docker.logContainerCmd(containerId).withStdOut(true).withStdErr(true).exec(new ResultCallback.Adapter<Frame>() {
                @Override
                public void onNext(Frame frame) {
                    out.append(new String(frame.getPayload(), StandardCharsets.UTF_8));
                }
            }).awaitCompletion(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return out.toString();
    }

    /** Removes every container this kubelet made. */
    @Override
    public void close() {
        closed = true;
        for (Container c : docker.listContainersCmd().withShowAll(true).withLabelFilter(Map.of(LABEL, id)).exec()) {
            try {
                docker.removeContainerCmd(c.getId()).withForce(true).exec();
            } catch (RuntimeException e) {
                // gone already
            }
        }
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(a -> out.add(a.asText()));
        return out;
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
