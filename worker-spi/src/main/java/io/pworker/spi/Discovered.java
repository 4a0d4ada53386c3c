package io.pworker.spi;

/**
 * Infrastructure a launcher found by its labels ({@link InfrastructureLauncher#discover}), whether or not the
 * core still knows about it.
 *
 * @param flowRunId the flow run the infrastructure was labelled with
 * @param handle    a handle that works for {@code watch}, {@code kill} and {@code recover}
 * @param phase     what it was doing when it was listed
 */
public record Discovered(String flowRunId, RunHandle handle, Phase phase) {
}
