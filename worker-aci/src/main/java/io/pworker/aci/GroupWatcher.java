package io.pworker.aci;

import com.azure.resourcemanager.containerinstance.fluent.models.ContainerGroupInner;
import com.azure.resourcemanager.containerinstance.fluent.models.LogsInner;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.Watch;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One thread that polls the container groups of every watched run, each at its run's
 * {@code task_watch_poll_interval}, and reports their phases. ACI has no event stream, and its list call leaves
 * out the containers' state, so each group is read on its own; doing it on one thread keeps a worker with many
 * runs from holding a thread per run.
 */
final class GroupWatcher implements AutoCloseable {

    /** Consecutive failed reads of a group before its run is given up as lost. */
    static final int MAX_FAILURES = 5;

    private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "pworker-aci-watch");
        t.setDaemon(true);
        return t;
    });
    private final PrintStream console;

    GroupWatcher(PrintStream console) {
        this.console = console;
    }

    /** What the watcher knows about one run; touched only by the poller thread. */
    private final class Watched implements Runnable {
        private final AciClients clients;
        private final String resourceGroup;
        private final String name;
        private final PhaseSink sink;
        private final ContainerOutput output;
        private Phase reported;
        private int failures;
        /** Set once a terminal phase is reported or the watch is closed; nothing is reported after it. */
        private volatile boolean done;
        private volatile ScheduledFuture<?> schedule;

        Watched(AciClients clients, String resourceGroup, String name, boolean streamOutput, PhaseSink sink) {
            this.clients = clients;
            this.resourceGroup = resourceGroup;
            this.name = name;
            this.sink = sink;
            this.output = streamOutput ? new ContainerOutput(name, console, sink::log) : null;
        }

        @Override
        public void run() {
            if (done) {
                return;
            }
            Phase phase;
            try {
                ContainerGroupInner group = clients.groups().getByResourceGroup(resourceGroup, name);
                failures = 0;
                phase = GroupPhase.of(group, name);
                if (output != null && !(phase instanceof Phase.Pending)) {
                    follow(group);
                }
            } catch (RuntimeException e) {
                if (AzureErrors.notFound(e)) {
                    phase = GroupPhase.deleted(name);
                } else if (++failures >= MAX_FAILURES) {
                    phase = new Phase.Gone("The worker lost track of container group " + name + " after " + failures
                            + " failed reads: " + AzureErrors.describe(e));
                } else {
                    return; // the SDK already retried throttling and server errors; try again next round
                }
            }
            report(phase);
        }

        private void follow(ContainerGroupInner group) {
            try {
                LogsInner logs = clients.containers().listLogsWithResponse(resourceGroup, name,
                        group.containers().getFirst().name(), ContainerOutput.TAIL, true,
                        com.azure.core.util.Context.NONE).getValue();
                output.accept(logs == null ? null : logs.content());
            } catch (RuntimeException e) {
                // ACI refuses logs of a container under heavy load now and then; the next round catches up
            }
        }

        private void report(Phase phase) {
            if (done) {
                return;
            }
            if (phase.terminal()) {
                phase = explained(phase);
            }
            if (!phase.equals(reported)) {
                reported = phase;
                sink.report(phase);
            }
            if (phase.terminal()) {
                cancel();
            }
        }

        /** A crash reason with the container's last lines, which the run's log does not otherwise get. */
        private Phase explained(Phase phase) {
            List<String> tail = output == null ? List.of() : output.tail();
            if (tail.isEmpty()) {
                return phase;
            }
            String lines = " Last output: " + String.join(" | ", tail);
            return switch (phase) {
                case Phase.Exited e when !e.status().successful() -> new Phase.Exited(new ExitStatus(e.status().code(),
                        (e.status().reason() == null ? "" : e.status().reason()) + lines));
                case Phase.Gone g -> new Phase.Gone(g.reason() + lines);
                default -> phase;
            };
        }

        void cancel() {
            done = true;
            ScheduledFuture<?> s = schedule;
            if (s != null) {
                s.cancel(false);
            }
        }
    }

    Watch watch(AciClients clients, String resourceGroup, String name, boolean streamOutput, Duration interval,
            PhaseSink sink) {
        Watched w = new Watched(clients, resourceGroup, name, streamOutput, sink);
        w.schedule = poller.scheduleWithFixedDelay(w, 0, Math.max(1, interval.toMillis()), TimeUnit.MILLISECONDS);
        // closing from another thread while a round is in flight: the round sees `done` before it reports
        return w::cancel;
    }

    @Override
    public void close() {
        poller.shutdownNow();
    }
}
