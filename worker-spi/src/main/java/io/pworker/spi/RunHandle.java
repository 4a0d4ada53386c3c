package io.pworker.spi;

import java.util.Map;

/**
 * How the core refers to one launched flow run's infrastructure. Plain data: no clients, no secrets.
 *
 * @param infrastructurePid the public identifier written to the flow run, in Prefect's per-type format
 *                          ({@code "4242"}, {@code "unix:///var/run/docker.sock:3f2a…"}, {@code "ns:job"})
 * @param state             plugin-private ids that make later calls cheaper (may be empty: a handle rebuilt
 *                          from the pid alone must still work)
 */
public record RunHandle(String infrastructurePid, Map<String, String> state) {

    public RunHandle {
        if (infrastructurePid == null || infrastructurePid.isBlank()) {
            throw new IllegalArgumentException("infrastructurePid must not be blank");
        }
        state = Map.copyOf(state);
    }

    public static RunHandle ofPid(String infrastructurePid) {
        return new RunHandle(infrastructurePid, Map.of());
    }
}
