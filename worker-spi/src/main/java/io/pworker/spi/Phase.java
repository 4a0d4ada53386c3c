package io.pworker.spi;

/**
 * What a flow run's infrastructure is doing, as a plugin observes it. The core turns phases into Prefect states,
 * events, run logs and the Crashed decision; a plugin only reports what it sees.
 *
 * <p>{@link Exited} and {@link Gone} are terminal: nothing is reported for a run after one of them.
 */
public sealed interface Phase {

    /** True for the phases after which the infrastructure will not run the flow any more. */
    default boolean terminal() {
        return this instanceof Exited || this instanceof Gone;
    }

    /**
     * The infrastructure exists but the flow run's code is not running yet: an image being pulled, a pod waiting
     * for a node, a task provisioning.
     *
     * @param detail what it is waiting for, in words for the user ("pulling image prefecthq/prefect:3"), or
     *               null. The core logs it to the run once per change, so keep it stable while nothing changes
     */
    record Pending(String detail) implements Phase {
    }

    /** The flow run's code is running. */
    record Running() implements Phase {
    }

    /** The infrastructure finished and its exit code is known. */
    record Exited(ExitStatus status) implements Phase {

        public Exited {
            if (status == null) {
                throw new IllegalArgumentException("status must not be null");
            }
        }

        public static Exited of(int code) {
            return new Exited(ExitStatus.of(code));
        }
    }

    /**
     * The infrastructure no longer exists, or can no longer be observed, and how it ended is unknown (removed from
     * outside, the backend lost for good, a process that ended while nobody watched it).
     *
     * @param reason a sentence for the user saying what happened; the core puts it in the Crashed message
     */
    record Gone(String reason) implements Phase {

        public Gone {
            if (reason == null || reason.isBlank()) {
                throw new IllegalArgumentException("a Gone phase needs a reason");
            }
        }
    }
}
