package io.pworker.testkit;

import io.pworker.spi.InfrastructureEvent;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A phase sink that keeps everything a watch hands it in arrival order (phases, log lines, events), so that a test
 * can check what came before the end, and queues the phases for waiting on them.
 */
public final class RecordingSink implements PhaseSink {

    private final List<Object> seen = new CopyOnWriteArrayList<>();
    private final BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
    private final List<String> failureLines = new CopyOnWriteArrayList<>();

    @Override
    public void report(Phase phase) {
        seen.add(phase);
        phases.add(phase);
    }

    @Override
    public void log(String message) {
        seen.add(message);
    }

    @Override
    public void failureLog(String line) {
        seen.add(line);
        failureLines.add(line);
    }

    @Override
    public void event(InfrastructureEvent event) {
        seen.add(event);
    }

    /** The lines sent as the infrastructure's own output because it failed (also in {@link #seen()}). */
    public List<String> failureLines() {
        return failureLines;
    }

    /** Phases, log lines ({@link String}, failure log lines among them) and events, in the order they arrived. */
    public List<Object> seen() {
        return seen;
    }

    /** The phases, to be taken while waiting for the end. */
    public BlockingQueue<Phase> phases() {
        return phases;
    }
}
