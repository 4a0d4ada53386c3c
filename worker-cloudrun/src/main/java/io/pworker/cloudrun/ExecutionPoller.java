package io.pworker.cloudrun;

import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.Watch;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One poller for every run being watched: a single timer thread decides when each execution is looked at, and
 * each look runs on a virtual thread so that one slow or retrying call does not hold up the others. A run whose
 * previous look is still in progress is skipped for that tick.
 */
final class ExecutionPoller implements AutoCloseable {

    /** One look at a run's infrastructure; may fail with whatever the client throws. */
    @FunctionalInterface
    interface Lookup {
        Phase look() throws Exception;
    }

    private final Clock clock;
    private final Duration lostAfter;
    private final ScheduledExecutorService timer;
    private final ExecutorService looks = Executors.newVirtualThreadPerTaskExecutor();
    private final Set<Watched> watched = ConcurrentHashMap.newKeySet();

    ExecutionPoller(Duration interval, Duration lostAfter, Clock clock) {
        this.clock = clock;
        this.lostAfter = lostAfter;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pworker-cloudrun-poller");
            t.setDaemon(true);
            return t;
        });
        long millis = Math.max(10, interval.toMillis());
        timer.scheduleWithFixedDelay(this::tick, millis, millis, TimeUnit.MILLISECONDS);
    }

    /** Starts watching; the first look happens at once. */
    Watch watch(String what, Lookup lookup, PhaseSink sink) {
        Watched w = new Watched(what, lookup, sink);
        watched.add(w);
        schedule(w);
        return () -> watched.remove(w);
    }

    int watching() {
        return watched.size();
    }

    private void tick() {
        watched.forEach(this::schedule);
    }

    private void schedule(Watched w) {
        if (w.busy.compareAndSet(false, true)) {
            try {
                looks.execute(() -> {
                    try {
                        w.lookOnce();
                    } finally {
                        w.busy.set(false);
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException closed) {
                w.busy.set(false);
            }
        }
    }

    @Override
    public void close() {
        watched.clear();
        timer.shutdownNow();
        looks.shutdownNow();
    }

    /** A watched run. Its fields are only touched by its own look, one at a time (the busy flag). */
    private final class Watched {
        final String what;
        final Lookup lookup;
        final PhaseSink sink;
        final AtomicBoolean busy = new AtomicBoolean();
        private Phase last;
        private Instant failingSince;

        Watched(String what, Lookup lookup, PhaseSink sink) {
            this.what = what;
            this.lookup = lookup;
            this.sink = sink;
        }

        void lookOnce() {
            if (!watched.contains(this)) {
                return;
            }
            Phase phase;
            try {
                phase = lookup.look();
                failingSince = null;
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                Instant now = clock.instant();
                if (failingSince == null) {
                    failingSince = now;
                }
                if (Duration.between(failingSince, now).compareTo(lostAfter) < 0) {
                    return;
                }
                phase = new Phase.Gone("The worker lost track of " + what + ": Cloud Run could not be read for "
                        + lostAfter.toMinutes() + " minutes (" + CloudRunLauncher.describe(e) + ")");
            }
            if (!watched.contains(this)) {
                return; // closed while looking
            }
            if (phase.terminal()) {
                watched.remove(this);
            }
            if (!phase.equals(last)) {
                last = phase;
                sink.report(phase);
            }
        }
    }
}
