package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** A kubelet that moves pods through the phases a test's script says, without running anything. */
final class ScriptedKubelet implements Kubelet {

    /** What happens to one pod; runs on its own thread. */
    @FunctionalInterface
    interface Script {
        void play(Pod pod) throws InterruptedException;
    }

    /** Runs until deleted, then exits 143 as a shell killed by SIGTERM does. */
    static final Script RUN_UNTIL_DELETED = pod -> {
        pod.running();
        pod.awaitStop(Duration.ofMinutes(5));
        pod.exit(143);
    };

    private volatile Script script = RUN_UNTIL_DELETED;
    private final Map<String, Pod> pods = new ConcurrentHashMap<>();

    /** The script for pods created from now on. */
    void script(Script s) {
        script = s;
    }

    /** One scripted pod: what the script may report. */
    final class Pod {
        final String namespace;
        final String name;
        final ObjectNode spec;
        private final FakeKubernetes cluster;
        private final CountDownLatch stop = new CountDownLatch(1);
        private final StringBuilder log = new StringBuilder();

        Pod(FakeKubernetes cluster, String namespace, String name, ObjectNode spec) {
            this.cluster = cluster;
            this.namespace = namespace;
            this.name = name;
            this.spec = spec;
        }

        String image() {
            return spec.at("/containers/0/image").asText();
        }

        void waiting(String reason, String message) {
            cluster.updatePod(namespace, name, s -> PodStatus.waiting(s, image(), reason, message));
        }

        void unschedulable(String message) {
            cluster.updatePod(namespace, name, s -> PodStatus.unschedulable(s, message));
        }

        void running() {
            cluster.updatePod(namespace, name, s -> PodStatus.running(s, image(), "scripted-" + name));
        }

        void exit(int code) {
            exit(code, null);
        }

        void exit(int code, String reason) {
            cluster.updatePod(namespace, name, s -> PodStatus.exited(s, image(), "scripted-" + name, code, reason));
        }

        synchronized void log(String line) {
            log.append(line).append('\n');
        }

        /** Waits for the pod's deletion; true when it came. */
        boolean awaitStop(Duration timeout) throws InterruptedException {
            return stop.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void start(FakeKubernetes cluster, String namespace, String name, ObjectNode spec) {
        Pod pod = new Pod(cluster, namespace, name, spec);
        pods.put(namespace + "/" + name, pod);
        Script s = script;
        Thread.ofVirtual().name("scripted-pod-" + name).start(() -> {
            try {
                s.play(pod);
            } catch (InterruptedException e) {
                // the test is over
            }
        });
    }

    @Override
    public void stop(String namespace, String name, Duration grace) {
        Pod pod = pods.get(namespace + "/" + name);
        if (pod != null) {
            pod.stop.countDown();
        }
    }

    @Override
    public String logs(String namespace, String name) {
        Pod pod = pods.get(namespace + "/" + name);
        if (pod == null) {
            return "";
        }
        synchronized (pod) {
            return pod.log.toString();
        }
    }

    @Override
    public void close() {
        pods.values().forEach(p -> p.stop.countDown());
    }
}
