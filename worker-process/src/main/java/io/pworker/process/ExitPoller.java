package io.pworker.process;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Notices the end of processes this launcher is not the parent of (found again after a worker restart, or named
 * by a handle), for every such watch with one virtual thread that looks at {@code /proc} every interval.
 *
 * <p>Why not {@code ProcessHandle.onExit()}: for a process that is not its child, the JDK gives each one a platform
 * thread of its own ("process reaper") that sleeps up to 5 s between looks. A worker that restarts with hundreds of
 * runs in flight would get hundreds of threads, each noticing an exit seconds late.
 */
final class ExitPoller implements AutoCloseable {

    private record Entry(ProcessIdentity identity, Runnable onEnd) {
    }

    private final Duration interval;
    private final String bootId;
    private final Map<Object, Entry> entries = new ConcurrentHashMap<>();
    private Thread thread;
    private boolean closed;

    ExitPoller(Duration interval, String bootId) {
        this.interval = interval;
        this.bootId = bootId;
    }

    /**
     * Runs {@code onEnd} once, on the poller's thread, after the process has ended (or its pid went to another
     * process). Running the returned action forgets the process; after it, {@code onEnd} is not called.
     */
    Runnable watch(ProcessIdentity identity, Runnable onEnd) {
        Object key = new Object();
        entries.put(key, new Entry(identity, onEnd));
        startIfNeeded();
        return () -> entries.remove(key);
    }

    private synchronized void startIfNeeded() {
        if (thread == null && !closed) {
            thread = Thread.ofVirtual().name("pworker-process-exit-poller").start(this::run);
        }
    }

    private void run() {
        try {
            while (!Thread.currentThread().isInterrupted()) {
                for (Map.Entry<Object, Entry> e : entries.entrySet()) {
                    Entry entry = e.getValue();
                    if (entry.identity().current(bootId).isEmpty() && entries.remove(e.getKey(), entry)) {
                        try {
                            entry.onEnd().run();
                        } catch (RuntimeException ignored) {
                            // one watcher's failure must not end the watches of the others
                        }
                    }
                }
                Thread.sleep(interval);
            }
        } catch (InterruptedException e) {
            // closed
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        entries.clear();
        if (thread != null) {
            thread.interrupt();
        }
    }
}
