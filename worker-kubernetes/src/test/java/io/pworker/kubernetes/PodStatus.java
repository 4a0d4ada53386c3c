package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Pod statuses as a kubelet reports them, with every field client-java's models require. */
final class PodStatus {

    private PodStatus() {
    }

    static void waiting(ObjectNode status, String image, String reason, String message) {
        status.put("phase", "Pending");
        conditions(status, true, false);
        ObjectNode c = container(status, image, false);
        c.putObject("state").putObject("waiting").put("reason", reason).put("message", message);
    }

    static void unschedulable(ObjectNode status, String message) {
        status.put("phase", "Pending");
        status.putArray("conditions").addObject().put("type", "PodScheduled").put("status", "False")
                .put("reason", "Unschedulable").put("message", message).put("lastTransitionTime", FakeKubernetes.now());
        status.remove("containerStatuses");
    }

    static void running(ObjectNode status, String image, String containerId) {
        status.put("phase", "Running").put("startTime", FakeKubernetes.now()).put("hostIP", "127.0.0.1")
                .put("podIP", "127.0.0.1");
        conditions(status, true, true);
        ObjectNode c = container(status, image, true).put("containerID", "docker://" + containerId);
        c.putObject("state").putObject("running").put("startedAt", FakeKubernetes.now());
    }

    static void exited(ObjectNode status, String image, String containerId, int code, String reason) {
        status.put("phase", code == 0 ? "Succeeded" : "Failed");
        if (!status.has("startTime")) {
            status.put("startTime", FakeKubernetes.now());
        }
        conditions(status, true, false);
        ObjectNode c = container(status, image, false).put("containerID", "docker://" + containerId);
        c.putObject("state").putObject("terminated").put("exitCode", code)
                .put("reason", reason != null ? reason : code == 0 ? "Completed" : "Error")
                .put("startedAt", FakeKubernetes.now()).put("finishedAt", FakeKubernetes.now())
                .put("containerID", "docker://" + containerId);
    }

    private static void conditions(ObjectNode status, boolean scheduled, boolean ready) {
        ArrayNode conditions = status.putArray("conditions");
        conditions.addObject().put("type", "PodScheduled").put("status", scheduled ? "True" : "False")
                .put("lastTransitionTime", FakeKubernetes.now());
        conditions.addObject().put("type", "Ready").put("status", ready ? "True" : "False")
                .put("lastTransitionTime", FakeKubernetes.now());
    }

    private static ObjectNode container(ObjectNode status, String image, boolean ready) {
        ObjectNode c = status.putArray("containerStatuses").addObject().put("name", KubernetesJobConfiguration.CONTAINER)
                .put("image", image).put("imageID", "").put("ready", ready).put("restartCount", 0).put("started", ready);
        return c;
    }
}
