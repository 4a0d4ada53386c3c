package io.pworker.cloudrun;

import io.pworker.spi.InfrastructureException;
import java.time.Duration;
import java.util.Map;

/**
 * How the launcher talks to Cloud Run, from the worker's environment.
 *
 * @param endpoint     the Admin API's address: {@code host:port} (TLS), or an {@code http://} or {@code https://}
 *                     URL (a private endpoint, or a fake in tests)
 * @param pollInterval how often executions and long-running operations are looked at (Prefect: 5 s)
 * @param create       retries of job creation on HTTP 429/500/503
 * @param submit       retries of {@code jobs.run}, each after checking that no execution was started
 * @param read         retries of reads (jobs, executions, listings) and deletes
 * @param lostAfter    how long a watched execution may be unreadable before its run is given up as gone
 */
record CloudRunSettings(String endpoint, Duration pollInterval, Retry create, Retry submit, Retry read,
        Duration lostAfter) {

    static final String DEFAULT_ENDPOINT = "run.googleapis.com:443";
    private static final String PREFECT_PREFIX = "PREFECT_INTEGRATIONS_GCP_CLOUD_RUN_V2_WORKER_";

    /** Exponential backoff with jitter between attempts, as Prefect's worker does (1 s doubling to 10 s, 3 tries). */
    record Retry(int maxAttempts, Duration initialDelay, Duration maxDelay) {
        static final Retry DEFAULT = new Retry(3, Duration.ofSeconds(1), Duration.ofSeconds(10));
    }

    /**
     * Reads {@code PWORKER_CLOUD_RUN_ENDPOINT}, {@code PWORKER_CLOUD_RUN_POLL_SECONDS} and Prefect's own
     * {@code PREFECT_INTEGRATIONS_GCP_CLOUD_RUN_V2_WORKER_{CREATE_JOB,SUBMIT_JOB,API_READ_RETRY}_{MAX_ATTEMPTS,
     * INITIAL_DELAY_SECONDS,MAX_DELAY_SECONDS}}.
     */
    static CloudRunSettings from(Map<String, String> env) throws InfrastructureException {
        String endpoint = env.getOrDefault("PWORKER_CLOUD_RUN_ENDPOINT", DEFAULT_ENDPOINT).strip();
        if (endpoint.isEmpty()) {
            endpoint = DEFAULT_ENDPOINT;
        }
        return new CloudRunSettings(endpoint,
                seconds(env, "PWORKER_CLOUD_RUN_POLL_SECONDS", Duration.ofSeconds(5)),
                retry(env, "CREATE_JOB"), retry(env, "SUBMIT_JOB"), retry(env, "API_READ_RETRY"),
                Duration.ofMinutes(5));
    }

    private static Retry retry(Map<String, String> env, String what) throws InfrastructureException {
        String attemptsKey = PREFECT_PREFIX + what + "_MAX_ATTEMPTS";
        int attempts = Retry.DEFAULT.maxAttempts();
        String raw = env.get(attemptsKey);
        if (raw != null && !raw.isBlank()) {
            try {
                attempts = Integer.parseInt(raw.strip());
            } catch (NumberFormatException e) {
                attempts = 0;
            }
            if (attempts < 1) {
                throw new InfrastructureException(attemptsKey + " must be a whole number of at least 1, got '" + raw + "'");
            }
        }
        return new Retry(attempts,
                seconds(env, PREFECT_PREFIX + what + "_INITIAL_DELAY_SECONDS", Retry.DEFAULT.initialDelay()),
                seconds(env, PREFECT_PREFIX + what + "_MAX_DELAY_SECONDS", Retry.DEFAULT.maxDelay()));
    }

    private static Duration seconds(Map<String, String> env, String key, Duration unset) throws InfrastructureException {
        String raw = env.get(key);
        if (raw == null || raw.isBlank()) {
            return unset;
        }
        try {
            double s = Double.parseDouble(raw.strip());
            if (s >= 0 && s <= 86_400) {
                return Duration.ofMillis(Math.round(s * 1000));
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InfrastructureException(key + " must be a number of seconds between 0 and 86400, got '" + raw + "'");
    }
}
