package io.pworker.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ships flow-run-scoped worker log lines to {@code POST /logs/} in batches (every batch interval, 2 s by
 * default), so that users see "submitting flow run …" and crash reasons in the run's log tab. Failures are
 * reported once per outage and never affect the worker.
 */
public final class LogShipper implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LogShipper.class);
    /** Prefect's limit for one record; longer messages are cut with a marker. */
    private static final int MAX_MESSAGE = 1_000_000;
    private static final int MAX_BATCH = 500;
    private static final int MAX_QUEUED = 50_000;

    private final PrefectClient client;
    private final Clock clock;
    private final Duration interval;
    private final LinkedBlockingQueue<ObjectNode> queue = new LinkedBlockingQueue<>(MAX_QUEUED);
    private final Thread thread;
    private volatile boolean closed;
    private boolean failing;

    public LogShipper(PrefectClient client, Clock clock, Duration interval) {
        this.client = client;
        this.clock = clock;
        this.interval = interval.isZero() ? Duration.ofSeconds(2) : interval;
        this.thread = Thread.ofVirtual().name("pworker-logs").start(this::run);
    }

    /** Queues one record; {@code level} uses Python's numbers (20 INFO, 30 WARNING, 40 ERROR). */
    public void add(String flowRunId, int level, String message) {
        if (closed) {
            return;
        }
        if (message.length() > MAX_MESSAGE) {
            message = message.substring(0, MAX_MESSAGE) + "... [truncated]";
        }
        ObjectNode r = JsonNodeFactory.instance.objectNode();
        r.put("name", "prefect.flow_runs.worker");
        r.put("level", level);
        r.put("message", message);
        r.put("timestamp", PrefectClient.TIMESTAMP.format(Instant.now(clock)));
        r.put("flow_run_id", flowRunId);
        r.putNull("task_run_id");
        client.http().workerId().ifPresent(id -> r.put("worker_id", id));
        queue.offer(r);
    }

    private void run() {
        try {
            while (!closed) {
                ObjectNode first = queue.poll(interval.toMillis(), TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                Thread.sleep(Math.min(interval.toMillis(), 200));
                flush(first);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void flush(ObjectNode first) throws InterruptedException {
        List<ObjectNode> batch = new ArrayList<>();
        if (first != null) {
            batch.add(first);
        }
        queue.drainTo(batch, MAX_BATCH - batch.size());
        if (batch.isEmpty()) {
            return;
        }
        ArrayNode body = JsonNodeFactory.instance.arrayNode();
        batch.forEach(body::add);
        try {
            client.createLogs(body);
            failing = false;
        } catch (ApiException e) {
            if (!failing) {
                log.warn("Cannot send flow-run logs to the Prefect API: {}", e.getMessage());
                failing = true;
            }
        }
    }

    /** Sends what is queued, then stops. */
    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            thread.join(Duration.ofSeconds(2));
            // the owner thread is gone: flushing here does not race with it
            while (!queue.isEmpty()) {
                flush(null);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
