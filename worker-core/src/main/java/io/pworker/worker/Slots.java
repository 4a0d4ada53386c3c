package io.pworker.worker;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;

/**
 * The {@code --limit} bound: one slot per flow run, taken before any API call for the run and released
 * exactly once whatever path the run takes (releasing twice is harmless, as Prefect requires).
 */
final class Slots {

    private final Semaphore permits;
    private final Set<String> holders = ConcurrentHashMap.newKeySet();

    /** @param limit maximum concurrent runs, or null for no limit */
    Slots(Integer limit) {
        this.permits = limit == null ? null : new Semaphore(limit);
    }

    boolean tryAcquire(String flowRunId) {
        if (permits != null && !permits.tryAcquire()) {
            return false;
        }
        holders.add(flowRunId);
        return true;
    }

    void release(String flowRunId) {
        if (holders.remove(flowRunId) && permits != null) {
            permits.release();
        }
    }

    int inUse() {
        return holders.size();
    }
}
