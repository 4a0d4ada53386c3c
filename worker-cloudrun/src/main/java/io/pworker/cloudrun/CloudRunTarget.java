package io.pworker.cloudrun;

import static io.pworker.spi.JobConfigurationFields.bool;
import static io.pworker.spi.JobConfigurationFields.text;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;

/**
 * Where a run's job lives and what to do with it afterwards: the part of a job configuration that every call
 * after launch needs (the core renders the configuration again for those calls).
 *
 * @param region      Cloud Run region, e.g. {@code us-central1}
 * @param credentials how to authenticate and, possibly, the project
 * @param keepJob     leave the job and its executions in place after the run
 */
record CloudRunTarget(String region, GcpCredentials credentials, boolean keepJob) {

    static final String DEFAULT_REGION = "us-central1";

    static CloudRunTarget from(ObjectNode c) throws LaunchException {
        String region = c == null ? null : text(c, "region");
        if (region != null && !region.matches("[a-z0-9-]+")) {
            throw new LaunchException("invalid job configuration 'region': '" + region + "' is not a region name such as us-central1");
        }
        return new CloudRunTarget(region == null || region.isBlank() ? DEFAULT_REGION : region,
                GcpCredentials.from(c == null ? null : c.get("credentials")),
                c != null && bool(c, "keep_job", false));
    }
}
