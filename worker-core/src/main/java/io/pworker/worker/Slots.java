package io.pworker.worker;

import java.util.HashSet;
import java.util.Set;

/**
 * The {@code --limit} bound: one slot per flow run, taken before any API call for the run and released exactly
 * once whatever path the run takes (releasing twice is harmless, as Prefect requires). Runs found again after a
 * restart take a slot unconditionally: they are running whether or not the limit allows it.
 */
final class Slots {

    private final Integer limit;
    private final Set<String> holders = new HashSet<>();

    /** @param limit maximum concurrent runs, or null for no limit */
    Slots(Integer limit) {
        this.limit = limit;
    }

    synchronized boolean tryAcquire(String flowRunId) {
        if (limit != null && holders.size() >= limit && !holders.contains(flowRunId)) {
            return false;
        }
        holders.add(flowRunId);
        return true;
    }

    synchronized void forceAcquire(String flowRunId) {
        holders.add(flowRunId);
    }

    synchronized void release(String flowRunId) {
        holders.remove(flowRunId);
    }

    synchronized int inUse() {
        return holders.size();
    }
}
