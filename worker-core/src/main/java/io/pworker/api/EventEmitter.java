package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends worker events to {@code /events/in}. One virtual thread owns the socket: it connects on the first
 * event, keeps the connection, and reconnects after a {@link ReconnectBackoff} pause when it drops or cannot be
 * opened. Emission never blocks the caller and never fails the worker: when the server cannot take events they
 * wait in a bounded queue, and the oldest are dropped (with a warning) if it fills. A server of another major
 * Prefect version gets no events at all, which is said once as an error.
 */
public final class EventEmitter implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EventEmitter.class);
    private static final int MAX_QUEUED = 10_000;
    private static final ObjectNode STOP = JsonNodeFactory.instance.objectNode();

    private final PrefectHttp http;
    private final Clock clock;
    private final BlockingQueue<ObjectNode> queue = new LinkedBlockingQueue<>();
    private final Thread sender;
    private volatile boolean warnedDown;

    public EventEmitter(PrefectHttp http, Clock clock) {
        this.http = http;
        this.clock = clock;
        this.sender = Thread.ofVirtual().name("pworker-events-in").start(this::run);
    }

    /**
     * Queues one event and returns its id (for {@code follows} of a later event).
     *
     * @param resource the resource labels
     * @param related  related resources, in order
     * @param follows  id of the event this one follows, or null
     */
    public String emit(String event, Map<String, String> resource, List<Map<String, String>> related, String follows) {
        return emit(event, null, null, resource, related, follows);
    }

    /**
     * Queues one event that happened elsewhere, as a plugin observed it, and returns its id.
     *
     * @param occurred when it happened, or null for now
     * @param id       the event's id when the caller derives one (Prefect's deterministic ids), or null for a new one
     */
    public String emit(String event, java.time.Instant occurred, String id, Map<String, String> resource,
            List<Map<String, String>> related, String follows) {
        long now = clock.millis();
        if (id == null) {
            id = Uuid7.next(now).toString();
        }
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode e = f.objectNode();
        e.put("occurred", PrefectClient.TIMESTAMP.format(occurred != null ? occurred : java.time.Instant.ofEpochMilli(now)));
        e.put("event", event);
        ObjectNode res = e.putObject("resource");
        resource.forEach(res::put);
        ArrayNode rel = e.putArray("related");
        for (Map<String, String> r : related) {
            ObjectNode o = rel.addObject();
            r.forEach(o::put);
        }
        e.putObject("payload");
        e.put("id", id);
        if (follows == null) {
            e.putNull("follows");
        } else {
            e.put("follows", follows);
        }
        while (queue.size() >= MAX_QUEUED) {
            queue.poll();
            log.warn("Event queue full: the Prefect API has not accepted events for a while; dropping the oldest");
        }
        queue.add(e);
        return id;
    }

    private void run() {
        WebSockets.Connection connection = null;
        ObjectNode pending = null;
        ReconnectBackoff backoff = new ReconnectBackoff();
        boolean incompatible = false;
        long reconnectAt = 0;
        try {
            while (true) {
                if (pending == null) {
                    pending = queue.take();
                }
                if (pending == STOP) {
                    break;
                }
                if (incompatible) {
                    // the server cannot take our events; keep the queue empty rather than fill it for nothing
                    pending = null;
                    continue;
                }
                try {
                    if (connection == null) {
                        // a socket that closed on its own still waits its turn: a server that accepts and
                        // closes at once would otherwise be reconnected to for every event
                        long wait = reconnectAt - System.nanoTime();
                        if (wait > 0) {
                            Thread.sleep(Duration.ofNanos(wait));
                        }
                        connection = WebSockets.open(http, "/events/in");
                        backoff.opened();
                        if (warnedDown) {
                            log.info("Event socket /events/in is back; sending queued events");
                            warnedDown = false;
                        }
                    }
                    connection.send(pending);
                    pending = null;
                    // notice a closed socket before the next send rather than losing that event
                    JsonNode frame;
                    while ((frame = connection.incoming().poll()) != null) {
                        if (frame == WebSockets.CLOSED) {
                            connection = null;
                            reconnectAt = System.nanoTime() + backoff.next().toNanos();
                            break;
                        }
                    }
                } catch (InterruptedException e) {
                    throw e;
                } catch (IncompatibleServerException e) {
                    log.error("{}; worker events are not sent to it", e.getMessage());
                    incompatible = true;
                    pending = null;
                } catch (Exception e) {
                    if (connection != null) {
                        connection.socket().abort();
                        connection = null;
                    }
                    Duration pause = backoff.next();
                    if (!warnedDown) {
                        log.warn("Cannot send worker events to the Prefect API ({}); will keep retrying", e.getMessage());
                        warnedDown = true;
                    }
                    log.debug("Next attempt to open /events/in in {} ms", pause.toMillis());
                    reconnectAt = 0;
                    Thread.sleep(pause);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (connection != null) {
                connection.close();
            }
        }
    }

    /** Sends what is queued (waiting at most {@code timeout}), then closes the socket. */
    public void close(Duration timeout) {
        queue.add(STOP);
        try {
            if (!sender.join(timeout)) {
                sender.interrupt();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(5));
    }
}
