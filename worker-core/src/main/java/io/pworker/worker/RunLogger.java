package io.pworker.worker;

import io.pworker.api.LogShipper;
import io.pworker.spi.RunLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Messages about one flow run: to the worker's log and, when shipping is on, to the run's log in Prefect. */
final class RunLogger implements RunLog {

    private static final Logger log = LoggerFactory.getLogger("pworker.flow_runs");

    private final String flowRunId;
    private final LogShipper shipper;

    RunLogger(String flowRunId, LogShipper shipper) {
        this.flowRunId = flowRunId;
        this.shipper = shipper;
    }

    @Override
    public void info(String message) {
        log.info("[{}] {}", flowRunId, message);
        ship(20, message);
    }

    @Override
    public void warn(String message) {
        log.warn("[{}] {}", flowRunId, message);
        ship(30, message);
    }

    @Override
    public void error(String message, Throwable cause) {
        if (cause == null) {
            log.error("[{}] {}", flowRunId, message);
            ship(40, message);
        } else {
            log.error("[{}] {}", flowRunId, message, cause);
            ship(40, message + "\n" + cause);
        }
    }

    void debug(String message) {
        log.debug("[{}] {}", flowRunId, message);
    }

    private void ship(int level, String message) {
        if (shipper != null) {
            shipper.add(flowRunId, level, message);
        }
    }
}
