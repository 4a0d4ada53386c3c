package io.pworker.cloudrun;

import com.google.api.gax.core.CredentialsProvider;
import com.google.api.gax.longrunning.OperationTimedPollAlgorithm;
import com.google.api.gax.retrying.RetrySettings;
import com.google.api.gax.rpc.StatusCode;
import com.google.api.gax.rpc.UnaryCallSettings;
import com.google.cloud.run.v2.ExecutionsClient;
import com.google.cloud.run.v2.ExecutionsSettings;
import com.google.cloud.run.v2.JobsClient;
import com.google.cloud.run.v2.JobsSettings;
import com.google.cloud.run.v2.TasksClient;
import com.google.cloud.run.v2.TasksSettings;
import java.io.IOException;
import java.time.Duration;
import java.util.Set;

/**
 * The two Cloud Run clients of one set of credentials, over REST (HttpJson), with Prefect's retry rules set
 * in the library's own retry and polling settings rather than in loops of ours.
 *
 * @param project the project the credentials name, or null
 */
record CloudRunApi(JobsClient jobs, ExecutionsClient executions, TasksClient tasks, String project) implements AutoCloseable {

    /** HTTP 429, 500 and 503: what Prefect's worker retries. */
    static final Set<StatusCode.Code> TRANSIENT = Set.of(StatusCode.Code.RESOURCE_EXHAUSTED, StatusCode.Code.INTERNAL,
            StatusCode.Code.UNAVAILABLE);
    private static final Duration OPERATION_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(60);

    static CloudRunApi connect(CloudRunSettings settings, CredentialsProvider credentials, String project) throws IOException {
        RetrySettings read = retries(settings.read());
        RetrySettings create = retries(settings.create());
        RetrySettings once = retries(new CloudRunSettings.Retry(1, Duration.ZERO, Duration.ZERO));
        OperationTimedPollAlgorithm polling = OperationTimedPollAlgorithm.create(polling(settings.pollInterval()));

        JobsSettings.Builder jobs = JobsSettings.newHttpJsonBuilder()
                .setEndpoint(settings.endpoint())
                .setCredentialsProvider(credentials);
        jobs.getJobSettings().setRetryableCodes(TRANSIENT).setRetrySettings(read);
        jobs.listJobsSettings().setRetryableCodes(TRANSIENT).setRetrySettings(read);
        // a create repeated after a lost answer meets 409 ALREADY_EXISTS, which the launcher settles by the job's labels
        jobs.createJobSettings().setRetryableCodes(TRANSIENT).setRetrySettings(create);
        jobs.createJobOperationSettings().setInitialCallSettings(UnaryCallSettings
                .<com.google.cloud.run.v2.CreateJobRequest, com.google.api.gax.longrunning.OperationSnapshot>newUnaryCallSettingsBuilder()
                .setRetryableCodes(TRANSIENT).setRetrySettings(create).build()).setPollingAlgorithm(polling);
        jobs.deleteJobSettings().setRetryableCodes(TRANSIENT).setRetrySettings(read);
        jobs.deleteJobOperationSettings().setInitialCallSettings(UnaryCallSettings
                .<com.google.cloud.run.v2.DeleteJobRequest, com.google.api.gax.longrunning.OperationSnapshot>newUnaryCallSettingsBuilder()
                .setRetryableCodes(TRANSIENT).setRetrySettings(read).build()).setPollingAlgorithm(polling);
        // never retried by the library: a second run is a second execution; the launcher checks before it tries again
        jobs.runJobSettings().setRetryableCodes(Set.of()).setRetrySettings(once);

        ExecutionsSettings.Builder executions = ExecutionsSettings.newHttpJsonBuilder()
                .setEndpoint(settings.endpoint())
                .setCredentialsProvider(credentials);
        executions.getExecutionSettings().setRetryableCodes(TRANSIENT).setRetrySettings(read);
        executions.listExecutionsSettings().setRetryableCodes(TRANSIENT).setRetrySettings(read);
        executions.deleteExecutionSettings().setRetryableCodes(TRANSIENT).setRetrySettings(read);
        executions.deleteExecutionOperationSettings().setInitialCallSettings(UnaryCallSettings
                .<com.google.cloud.run.v2.DeleteExecutionRequest, com.google.api.gax.longrunning.OperationSnapshot>newUnaryCallSettingsBuilder()
                .setRetryableCodes(TRANSIENT).setRetrySettings(read).build()).setPollingAlgorithm(polling);
        executions.cancelExecutionSettings().setRetryableCodes(TRANSIENT).setRetrySettings(read);
        executions.cancelExecutionOperationSettings().setInitialCallSettings(UnaryCallSettings
                .<com.google.cloud.run.v2.CancelExecutionRequest, com.google.api.gax.longrunning.OperationSnapshot>newUnaryCallSettingsBuilder()
                .setRetryableCodes(TRANSIENT).setRetrySettings(read).build()).setPollingAlgorithm(polling);

        TasksSettings.Builder tasks = TasksSettings.newHttpJsonBuilder()
                .setEndpoint(settings.endpoint())
                .setCredentialsProvider(credentials);
        tasks.listTasksSettings().setRetryableCodes(TRANSIENT).setRetrySettings(read);

        JobsClient jobsClient = JobsClient.create(jobs.build());
        ExecutionsClient executionsClient = null;
        try {
            executionsClient = ExecutionsClient.create(executions.build());
            return new CloudRunApi(jobsClient, executionsClient, TasksClient.create(tasks.build()), project);
        } catch (IOException | RuntimeException e) {
            jobsClient.close();
            if (executionsClient != null) {
                executionsClient.close();
            }
            throw e;
        }
    }

    private static RetrySettings retries(CloudRunSettings.Retry r) {
        return RetrySettings.newBuilder()
                .setMaxAttempts(r.maxAttempts())
                .setInitialRetryDelayDuration(r.initialDelay())
                .setRetryDelayMultiplier(2.0)
                .setMaxRetryDelayDuration(r.maxDelay().compareTo(r.initialDelay()) < 0 ? r.initialDelay() : r.maxDelay())
                .setInitialRpcTimeoutDuration(CALL_TIMEOUT)
                .setRpcTimeoutMultiplier(1.0)
                .setMaxRpcTimeoutDuration(CALL_TIMEOUT)
                .setTotalTimeoutDuration(CALL_TIMEOUT.multipliedBy(r.maxAttempts()).plus(r.maxDelay().multipliedBy(r.maxAttempts())))
                .build();
    }

    /** Operations are first looked at after one poll interval, then less and less often, as the library does. */
    private static RetrySettings polling(Duration interval) {
        Duration first = interval.isZero() ? Duration.ofMillis(10) : interval;
        // 5 s polls grow to 45 s as in the library's defaults; shorter polls (tests) grow in proportion
        Duration max = first.multipliedBy(9).compareTo(Duration.ofSeconds(45)) > 0
                ? (first.compareTo(Duration.ofSeconds(45)) > 0 ? first : Duration.ofSeconds(45)) : first.multipliedBy(9);
        return RetrySettings.newBuilder()
                .setInitialRetryDelayDuration(first)
                .setRetryDelayMultiplier(1.5)
                .setMaxRetryDelayDuration(max)
                .setInitialRpcTimeoutDuration(Duration.ZERO)
                .setRpcTimeoutMultiplier(1.0)
                .setMaxRpcTimeoutDuration(Duration.ZERO)
                .setTotalTimeoutDuration(OPERATION_TIMEOUT)
                .build();
    }

    @Override
    public void close() {
        jobs.close();
        executions.close();
        tasks.close();
    }
}
