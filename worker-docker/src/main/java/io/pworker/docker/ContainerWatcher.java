package io.pworker.docker;

import static io.pworker.docker.DockerConnection.closeQuietly;
import static io.pworker.docker.DockerConnection.rootMessage;

import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Event;
import com.github.dockerjava.api.model.EventType;
import com.github.dockerjava.api.command.InspectContainerResponse;
import io.pworker.spi.InfrastructureEvent;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.Watch;
import java.io.Closeable;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the containers of one engine. A single event stream ({@code /events} for containers labelled with a
 * flow-run id: start, die, destroy) serves every watch, however many; a container is inspected when its watch
 * starts, and every watched container again whenever the stream opens, so that nothing that happened while no
 * stream was open is missed. A stream that fails is reopened with back-off; a watch that has had no engine for
 * the patience period gets {@link Phase.Gone}. The stream is open only while something is watched.
 *
 * <p>One virtual thread owns all of this: it takes messages from its inbox (a watch started or closed, the
 * stream opened, an event, the stream failed) and is the only one to touch the watch table, call the engine or
 * report to a sink. docker-java's stream thread and the callers of {@link #watch} and {@link Watch#close} only post.
 */
final class ContainerWatcher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ContainerWatcher.class);
    private static final Duration TICK = Duration.ofMillis(250);
    /** How long a final report waits for the container's streamed output, so that its last lines come first. */
    private static final Duration OUTPUT_GRACE = Duration.ofSeconds(2);
    /**
     * How far back a new stream asks the engine to replay. The engine answers a stream request before it
     * subscribes; replayed events close that gap, and repeating a phase is harmless.
     */
    private static final Duration REPLAY = Duration.ofSeconds(60);

    private final DockerConnection engine;
    private final ContainerPhases phases;
    private final Clock clock;
    private final BlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
    private final Thread owner;

    // the owner thread's alone
    private final Map<String, List<Registration>> watched = new HashMap<>();
    private final EngineOutage outage;
    private EventStream stream;
    private boolean streaming;

    private ContainerWatcher(DockerConnection engine, ContainerPhases phases, Clock clock, Duration patience) {
        this.engine = engine;
        this.phases = phases;
        this.clock = clock;
        this.outage = new EngineOutage(clock, patience);
        this.owner = Thread.ofVirtual().name("pworker-docker-watcher").unstarted(this::run);
    }

    /** @param patience how long watches wait for a lost engine before they report Gone */
    static ContainerWatcher start(DockerConnection engine, ContainerPhases phases, Clock clock, Duration patience) {
        ContainerWatcher watcher = new ContainerWatcher(engine, phases, clock, patience);
        watcher.owner.start();
        return watcher;
    }

    /**
     * Reports the container's phase to the sink soon, then every change until a terminal one.
     *
     * @param output completes when the container's streamed output is printed, or null when none is streamed
     */
    Watch watch(String containerId, String name, PhaseSink sink, CompletableFuture<Void> output) {
        Registration r = new Registration(containerId, name, sink, output, clock.instant());
        inbox.add(new Started(r));
        return r;
    }

    /** Ends every watch without a report and closes the stream. */
    @Override
    public void close() {
        inbox.add(new Shutdown());
        try {
            owner.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private sealed interface Message {
    }

    private record Started(Registration watch) implements Message {
    }

    private record Closed(Registration watch) implements Message {
    }

    private record Opened(EventStream stream) implements Message {
    }

    private record Received(EventStream stream, Event event) implements Message {
    }

    private record Failed(EventStream stream, Throwable cause) implements Message {
    }

    private record Shutdown() implements Message {
    }

    private void run() {
        try {
            while (true) {
                // only retries and patience are timed; everything else arrives as a message
                boolean timed = outage.ongoing() || (stream == null && !watched.isEmpty());
                Message m = timed ? inbox.poll(TICK.toMillis(), TimeUnit.MILLISECONDS) : inbox.take();
                if (m instanceof Shutdown) {
                    return;
                }
                try {
                    if (m != null) {
                        handle(m);
                    }
                    keepUp();
                } catch (RuntimeException e) {
                    log.warn("Docker container watcher: {}", e.toString(), e);
                }
            }
        } catch (InterruptedException e) {
            // closing
        } finally {
            closeStream();
            watched.values().forEach(list -> list.forEach(Registration::close));
        }
    }

    private void handle(Message m) {
        switch (m) {
            case Started s -> {
                watched.computeIfAbsent(s.watch().id, k -> new ArrayList<>()).add(s.watch());
                if (streaming) {
                    look(s.watch().id);
                }
            }
            case Closed c -> forget(c.watch());
            case Opened o when o.stream() == stream -> {
                streaming = true;
                if (outage.ended()) {
                    log.info("The Docker engine answers again; checking the {} watched containers", watched.size());
                }
                for (String id : List.copyOf(watched.keySet())) {
                    if (stream == null) {
                        break; // lost again while looking
                    }
                    look(id);
                }
            }
            case Received r when r.stream() == stream -> onEvent(r.event());
            case Failed f when f.stream() == stream -> lose(f.cause());
            default -> {
                // from a stream closed already
            }
        }
    }

    /** Opens a stream when one is needed and due, and gives up on watches that have waited too long for the engine. */
    private void keepUp() {
        if (watched.isEmpty()) {
            // nothing to watch: an absent engine is nobody's concern yet
            closeStream();
            outage.ended();
            return;
        }
        if (stream == null && outage.attemptDue()) {
            open();
        }
        if (outage.ongoing()) {
            giveUpOnOverdue();
        }
    }

    private void open() {
        EventStream s = new EventStream();
        stream = s;
        streaming = false;
        try {
            engine.streams().eventsCmd()
                    .withEventTypeFilter(EventType.CONTAINER)
                    .withLabelFilter(ContainerSpec.FLOW_RUN_ID)
                    .withEventFilter("start", "die", "destroy")
                    .withSince(String.valueOf(clock.instant().minus(REPLAY).getEpochSecond()))
                    .exec(s);
        } catch (RuntimeException e) {
            lose(e);
        }
    }

    private void lose(Throwable cause) {
        closeStream();
        if (outage.failed(cause)) {
            log.warn("Lost the Docker engine's event stream ({}); reconnecting", rootMessage(cause));
        }
    }

    private void giveUpOnOverdue() {
        for (List<Registration> list : List.copyOf(watched.values())) {
            for (Registration r : List.copyOf(list)) {
                if (outage.overdue(r.since)) {
                    report(r, new Phase.Gone("The worker lost track of the flow run's infrastructure: lost the Docker"
                            + " engine while watching container " + r.name + ": " + rootMessage(outage.lastFailure())));
                }
            }
        }
    }

    private void onEvent(Event e) {
        String id = e.getId() != null ? e.getId() : e.getActor() != null ? e.getActor().getId() : null;
        List<Registration> list = id == null ? null : watched.get(id);
        if (list == null) {
            return;
        }
        String name = list.getFirst().name;
        String action = e.getAction() != null ? e.getAction() : String.valueOf(e.getStatus());
        Instant when = e.getTimeNano() != null && e.getTimeNano() > 0 ? Instant.EPOCH.plusNanos(e.getTimeNano())
                : e.getTime() != null && e.getTime() > 0 ? Instant.ofEpochSecond(e.getTime()) : null;
        Phase phase = switch (action) {
            case "start" -> {
                status(id, "running", when);
                yield new Phase.Running();
            }
            case "die" -> afterDeath(id, name, e, when);
            case "destroy" -> ContainerPhases.disappeared(name);
            default -> null;
        };
        if (phase != null) {
            reportAll(id, phase);
        }
    }

    /** How a container that just died ended; null when the engine could not be asked (the next stream will look). */
    private Phase afterDeath(String id, String name, Event e, Instant when) {
        try {
            InspectContainerResponse container = engine.client().inspectContainerCmd(id).exec();
            status(id, statusOf(container, "exited"), when);
            return phases.of(container, name);
        } catch (NotFoundException gone) {
            // removed already (auto_remove): it died all the same
            status(id, "exited", when);
            return ContainerPhases.disappeared(name);
        } catch (RuntimeException unreachable) {
            status(id, "exited", when);
            String code = e.getActor() == null || e.getActor().getAttributes() == null ? null
                    : e.getActor().getAttributes().get("exitCode");
            if (code != null && code.matches("-?\\d+")) {
                // the event carries the code; only the reasons behind it (memory, who stopped it) are lost
                return Phase.Exited.of(Integer.parseInt(code));
            }
            lose(unreachable);
            return null;
        }
    }

    /** Inspects a watched container and reports what it is doing; an engine that does not answer counts as lost. */
    private void look(String id) {
        List<Registration> list = watched.get(id);
        if (list == null) {
            return;
        }
        String name = list.getFirst().name;
        Phase phase;
        try {
            InspectContainerResponse container = engine.client().inspectContainerCmd(id).exec();
            String status = statusOf(container, null);
            if (status != null) {
                status(id, status, null);
            }
            phase = phases.of(container, name);
        } catch (NotFoundException e) {
            phase = ContainerPhases.disappeared(name);
        } catch (RuntimeException e) {
            lose(e);
            return;
        }
        reportAll(id, phase);
    }

    private static String statusOf(InspectContainerResponse container, String otherwise) {
        return container.getState() != null && container.getState().getStatus() != null
                ? container.getState().getStatus() : otherwise;
    }

    /**
     * Sends {@code prefect.docker.container.<status>} to the container's watches whose last event was of another
     * status, as prefect-docker does for each new status it sees (Docker's own words: running, exited, dead…).
     */
    private void status(String id, String status, Instant when) {
        for (Registration r : List.copyOf(watched.getOrDefault(id, List.of()))) {
            if (!status.equals(r.lastStatus)) {
                r.lastStatus = status;
                r.event(new InfrastructureEvent("prefect.docker.container." + status, "prefect.docker.container." + id,
                        Map.of("prefect.resource.name", r.name), when, null));
            }
        }
    }

    private void reportAll(String id, Phase phase) {
        for (Registration r : List.copyOf(watched.getOrDefault(id, List.of()))) {
            report(r, phase);
        }
    }

    private void report(Registration r, Phase phase) {
        if (phase.terminal()) {
            forget(r);
        }
        r.report(phase);
    }

    private void forget(Registration r) {
        List<Registration> list = watched.get(r.id);
        if (list != null && list.remove(r) && list.isEmpty()) {
            watched.remove(r.id);
        }
    }

    private void closeStream() {
        closeQuietly(stream);
        stream = null;
        streaming = false;
    }

    /** One watch of one container. Its sink hears nothing once it is closed or has had its terminal phase. */
    private final class Registration implements Watch {
        final String id;
        final String name;
        final Instant since;
        private final PhaseSink sink;
        private final CompletableFuture<Void> output;
        private final AtomicBoolean closed = new AtomicBoolean();
        /** The status its last event was sent for; the owner thread's alone. */
        String lastStatus;

        Registration(String id, String name, PhaseSink sink, CompletableFuture<Void> output, Instant since) {
            this.id = id;
            this.name = name;
            this.sink = sink;
            this.output = output;
            this.since = since;
        }

        /** On the owner thread; a terminal phase that waits for output does so on a thread of its own. */
        void report(Phase phase) {
            if (closed.get()) {
                return;
            }
            if (phase.terminal() && output != null && !output.isDone()) {
                Thread.ofVirtual().name("pworker-docker-last-output").start(() -> {
                    try {
                        output.get(OUTPUT_GRACE.toMillis(), TimeUnit.MILLISECONDS);
                    } catch (Exception e) {
                        // report the end anyway; the output is best effort
                    }
                    deliver(phase);
                });
            } else {
                deliver(phase);
            }
        }

        /** On the owner thread, before the phase it goes with, so that it comes before a terminal one. */
        void event(InfrastructureEvent event) {
            if (closed.get()) {
                return;
            }
            try {
                sink.event(event);
            } catch (RuntimeException e) {
                log.warn("A phase sink failed for container {}: {}", name, e.toString());
            }
        }

        private void deliver(Phase phase) {
            if (closed.get()) {
                return;
            }
            try {
                sink.report(phase);
            } catch (RuntimeException e) {
                log.warn("A phase sink failed for container {}: {}", name, e.toString());
            }
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                inbox.add(new Closed(this));
            }
        }
    }

    /** docker-java's callback for one event stream: everything it hears goes to the inbox, tagged with the stream. */
    private final class EventStream extends EngineCallback<Event> {

        @Override
        public void onStart(Closeable connection) {
            super.onStart(connection);
            inbox.add(new Opened(this));
        }

        @Override
        public void onNext(Event event) {
            inbox.add(new Received(this, event));
        }

        @Override
        public void onError(Throwable error) {
            inbox.add(new Failed(this, error));
        }

        @Override
        public void onComplete() {
            inbox.add(new Failed(this, new IOException("the engine ended its event stream")));
        }
    }
}
