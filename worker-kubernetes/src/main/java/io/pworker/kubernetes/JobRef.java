package io.pworker.kubernetes;

import io.kubernetes.client.openapi.models.V1Job;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.RunHandle;
import java.util.Map;

/** A flow run's Job, as Prefect's {@code infrastructure_pid} names it: {@code "<namespace>:<job name>"}. */
record JobRef(String namespace, String name) {

    static JobRef of(V1Job job) {
        return new JobRef(job.getMetadata().getNamespace(), job.getMetadata().getName());
    }

    static JobRef of(RunHandle handle) throws InfrastructureException {
        String ns = handle.state().get("namespace");
        String job = handle.state().get("job");
        if (ns != null && job != null) {
            return new JobRef(ns, job);
        }
        String pid = handle.infrastructurePid();
        // "<namespace>:<job>"; Prefect 2 wrote "<cluster uid>:<namespace>:<job>"
        String[] parts = pid.split(":", -1);
        if (parts.length < 2 || parts.length > 3 || parts[parts.length - 2].isEmpty() || parts[parts.length - 1].isEmpty()) {
            throw new InfrastructureException("infrastructure_pid '" + pid + "' is not a Kubernetes job id "
                    + "(expected '<namespace>:<job name>')");
        }
        return new JobRef(parts[parts.length - 2], parts[parts.length - 1]);
    }

    RunHandle handle(String uid) {
        return new RunHandle(namespace + ":" + name, uid == null ? Map.of("namespace", namespace, "job", name)
                : Map.of("namespace", namespace, "job", name, "uid", uid));
    }

    @Override
    public String toString() {
        return namespace + "/" + name;
    }
}
