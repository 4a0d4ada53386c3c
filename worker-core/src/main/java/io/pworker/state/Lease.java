package io.pworker.state;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;

/**
 * This worker process's hold on one flow run's record ({@link RunStore#lease}). Its owner writes the record as
 * the launch advances, deletes it once the run's end is reported, or closes the lease to leave the record for the
 * next worker (shutdown with infrastructure that outlives the worker, or an API that is down).
 */
public final class Lease implements AutoCloseable {

    private final RunStore store;
    private final String flowRunId;
    private final FileChannel channel;
    private final FileLock lock;

    Lease(RunStore store, String flowRunId, FileChannel channel, FileLock lock) {
        this.store = store;
        this.flowRunId = flowRunId;
        this.channel = channel;
        this.lock = lock;
    }

    public String flowRunId() {
        return flowRunId;
    }

    /** Replaces the record atomically: a crash leaves either the old record or the new one, never a torn one. */
    public void write(RunRecord record) throws IOException {
        store.write(flowRunId, record);
    }

    /** The run needs nobody any more: removes its record, then lets go. */
    public void delete() throws IOException {
        try {
            store.delete(flowRunId);
        } finally {
            close();
        }
    }

    /** Lets go and keeps the record for a later worker. */
    @Override
    public void close() {
        try {
            if (lock.isValid()) {
                lock.release();
            }
            channel.close();
        } catch (IOException e) {
            // closing the descriptor releases the lock anyway
        }
    }
}
