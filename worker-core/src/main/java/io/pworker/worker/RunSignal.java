package io.pworker.worker;

import io.pworker.spi.Phase;

/** What other threads tell a run's supervisor; it acts on these in the order they arrive. */
sealed interface RunSignal {

    /** The plugin observed a phase of the run's infrastructure. */
    record PhaseSeen(Phase phase) implements RunSignal {
    }

    /** The run entered CANCELLING, or the worker is stopping. */
    enum Control implements RunSignal {
        CANCEL, STOP
    }
}
