package io.pworker.process;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Copies the output files of flow runs ({@code stream_output}) to the console, line by line with the run's prefix,
 * for all runs with one thread that reads every file each interval.
 *
 * <p>Why files and not pipes: a pipe ties the flow run to the worker that holds its other end. Once that worker
 * is killed, the flow's next write fails (EPIPE, or SIGPIPE), and a restart-safe run dies of its own print. A file
 * outlives the worker, and the next worker resumes copying at the position saved in the launch record.
 *
 * <p>The thread is a platform thread because all it does is blocking file and console I/O, which would pin a
 * virtual thread's carrier anyway. It alone touches the followed files; other threads hand it commands through a
 * queue, which also keeps a {@link #finish} in order after the {@link #follow} of the same run.
 */
final class OutputFollower implements AutoCloseable {

    /** Where the follower saves how far it has copied a run's file. */
    @FunctionalInterface
    interface Checkpoint {
        void save(String flowRunId, long position);
    }

    private static final int BUFFER = 64 * 1024;
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);

    private final PrintStream console;
    private final Duration interval;
    private final Duration saveEvery;
    private final long truncateAbove;
    private final Checkpoint checkpoint;
    private record Command(Runnable action, CompletableFuture<Void> done) {
    }

    private final BlockingQueue<Command> commands = new LinkedBlockingQueue<>();
    /** Owned by the thread. */
    private final Map<String, FollowedOutput> followed = new HashMap<>();
    private final ByteBuffer buffer = ByteBuffer.allocate(BUFFER);
    private Thread thread;
    private boolean closed;
    /** Set by the closing command, on the thread. */
    private boolean ending;

    /**
     * @param interval      how often every file is read
     * @param saveEvery     how often at most a run's position is saved (what a worker crash may print twice)
     * @param truncateAbove a file larger than this is emptied once all of it has been copied
     */
    OutputFollower(PrintStream console, Duration interval, Duration saveEvery, long truncateAbove,
            Checkpoint checkpoint) {
        this.console = console;
        this.interval = interval;
        this.saveEvery = saveEvery;
        this.truncateAbove = truncateAbove;
        this.checkpoint = checkpoint;
    }

    /** Starts copying {@code file} from byte {@code position}; does nothing when the run is already followed. */
    void follow(String flowRunId, Path file, String prefix, long position) {
        submit(() -> followed.computeIfAbsent(flowRunId,
                id -> new FollowedOutput(id, file, prefix, position, console)));
    }

    /**
     * Copies what is left of the run's file, its unfinished last line included, saves the final position and stops
     * following it. Completes at once for a run not followed.
     */
    CompletableFuture<Void> finish(String flowRunId) {
        return submit(() -> {
            FollowedOutput f = followed.remove(flowRunId);
            if (f != null) {
                try {
                    f.finish(buffer);
                } catch (IOException ignored) {
                    // what could be read was copied
                }
                save(f, true);
            }
        });
    }

    /** Stops following the run without copying more: its files are about to be removed. */
    CompletableFuture<Void> stop(String flowRunId) {
        return submit(() -> {
            FollowedOutput f = followed.remove(flowRunId);
            if (f != null) {
                f.close();
            }
        });
    }

    private synchronized CompletableFuture<Void> submit(Runnable command) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (closed) {
            done.complete(null);
            return done;
        }
        commands.add(new Command(command, done));
        if (thread == null) {
            thread = Thread.ofPlatform().daemon().name("pworker-process-output").start(this::run);
        }
        return done;
    }

    private void run() {
        long nextPass = System.nanoTime();
        try {
            while (!ending) {
                long wait = nextPass - System.nanoTime();
                Command command = wait > 0 ? commands.poll(wait, TimeUnit.NANOSECONDS) : commands.poll();
                if (command != null) {
                    runQuietly(command.action());
                    command.done().complete(null);
                }
                if (!ending && System.nanoTime() - nextPass >= 0) {
                    followed.values().forEach(this::copy);
                    nextPass = System.nanoTime() + interval.toNanos();
                }
            }
        } catch (InterruptedException e) {
            // close gave up waiting for the last command
        } finally {
            followed.values().forEach(FollowedOutput::close);
            followed.clear();
            // nobody waits forever for a command the thread will not run
            commands.forEach(c -> c.done().complete(null));
        }
    }

    private void copy(FollowedOutput f) {
        try {
            f.copy(buffer);
            boolean emptied = f.truncateIfCopied(truncateAbove);
            save(f, emptied);
        } catch (IOException | RuntimeException e) {
            // a file that cannot be read now is tried again next time; the others go on
        }
    }

    private void save(FollowedOutput f, boolean now) {
        long position = f.positionToSave(saveEvery.toNanos(), now);
        if (position >= 0) {
            checkpoint.save(f.flowRunId(), position);
        }
    }

    private static void runQuietly(Runnable command) {
        try {
            command.run();
        } catch (RuntimeException e) {
            // one run's trouble must not end the copying of the others
        }
    }

    /**
     * Copies what has been written so far, saves every run's position for the worker that starts next, and ends
     * the thread. Never stops flow runs; their output goes on to the files.
     */
    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            if (closed) {
                return;
            }
            t = thread;
            if (t != null) {
                commands.add(new Command(() -> {
                    followed.values().forEach(f -> {
                        copy(f);
                        save(f, true);
                    });
                    ending = true;
                }, new CompletableFuture<>()));
            }
            closed = true;
        }
        if (t != null) {
            try {
                if (!t.join(CLOSE_WAIT)) {
                    t.interrupt();
                }
            } catch (InterruptedException e) {
                t.interrupt();
                Thread.currentThread().interrupt();
            }
        }
    }
}
