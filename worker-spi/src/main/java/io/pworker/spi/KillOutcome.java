package io.pworker.spi;

/** Result of {@link InfrastructureLauncher#kill}; the words Prefect uses for the same situations. */
public enum KillOutcome {
    /** The infrastructure was stopped. */
    KILLED,
    /** Nothing with that identifier exists (any more); counts as stopped. */
    NOT_FOUND,
    /** It may exist but not where this worker can reach it (another host, engine or cluster). */
    NOT_AVAILABLE
}
