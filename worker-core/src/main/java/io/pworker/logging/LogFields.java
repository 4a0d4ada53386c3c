package io.pworker.logging;

import org.slf4j.MDC;

/**
 * The context a JSON log line carries besides the message: the flow run a thread works for (MDC, set by the run's
 * supervisor on its own thread) and the worker's name (one per process, known only once the worker is created).
 */
public final class LogFields {

    public static final String FLOW_RUN_ID = "flow_run_id";
    public static final String WORKER_NAME = "worker_name";

    private static volatile String workerName;

    private LogFields() {
    }

    /** Marks the current thread as working for this flow run. */
    public static void run(String flowRunId) {
        MDC.put(FLOW_RUN_ID, flowRunId);
    }

    public static void worker(String name) {
        workerName = name;
    }

    /** The worker's name, or null before it is known. */
    public static String worker() {
        return workerName;
    }
}
