package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;

/**
 * What runs a fake cluster's pods: a script per test, or containers on a real Docker engine. The cluster calls it;
 * it reports back through {@link FakeKubernetes#updatePod} and {@link FakeKubernetes#podStopped}.
 */
interface Kubelet extends AutoCloseable {

    /** A pod was created: start working on it (returns at once). */
    void start(FakeKubernetes cluster, String namespace, String name, ObjectNode spec);

    /**
     * The pod is being deleted: stop its container gracefully, forcibly after {@code grace}. May be called again
     * with a shorter grace, which then wins.
     */
    void stop(String namespace, String name, Duration grace);

    /** The pod's {@code prefect-job} output so far. */
    String logs(String namespace, String name);

    @Override
    void close();
}
