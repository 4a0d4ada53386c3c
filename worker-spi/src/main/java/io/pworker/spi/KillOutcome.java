package io.pworker.spi;

/** Result of {@link InfrastructureLauncher#kill}; the words Prefect uses for the same situations. */
public enum KillOutcome {
    /** The infrastructure was stopped. */
    KILLED,
    /** Nothing is left running to stop: it never existed, was removed, or has already ended. Counts as stopped. */
    NOT_FOUND,
    /** It may exist but not where this worker can reach it (another host, engine or cluster). */
    NOT_AVAILABLE
}
