package io.pworker.ecs;

import io.pworker.spi.InfrastructureEvent;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.Watch;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.ecs.EcsClient;
import software.amazon.awssdk.services.ecs.model.DesiredStatus;
import software.amazon.awssdk.services.ecs.model.DescribeTasksResponse;
import software.amazon.awssdk.services.ecs.model.Task;

/**
 * Watches every task of one cluster that a run is waiting on, with one thread and one DescribeTasks call per 100
 * tasks per interval, whatever the number of runs. The thread exists only while something is watched.
 *
 * <p>A task ECS does not list three polls in a row is reported gone (right after RunTask a task may briefly be
 * unknown; a stopped task is forgotten by ECS after about an hour). When ECS cannot be asked at all, the poller
 * keeps trying and reports the tasks gone only after {@code giveUpAfter}.
 *
 * <p>A task that has not left PROVISIONING/PENDING within its run's start timeout (from its {@code createdAt}) is
 * stopped and its run ends. A task that ends without an exit code, or with a non-zero one, has its flow container's
 * CloudWatch log sent to the run's log before the end is reported.
 */
final class ClusterPoller implements AutoCloseable {

    static final int BATCH = 100;
    private static final int MISSES_BEFORE_GONE = 3;
    private static final Logger log = LoggerFactory.getLogger(ClusterPoller.class);

    private final EcsClient ecs;
    private final TaskLogs logs;
    private final String cluster;
    private final Duration interval;
    private final Duration giveUpAfter;
    private final Clock clock;

    private final Object lock = new Object();
    /** Guarded by {@link #lock}. */
    private final Set<Subscription> subscriptions = new LinkedHashSet<>();
    /** Guarded by {@link #lock}; null while nothing is watched. */
    private Thread thread;
    /** Guarded by {@link #lock}. */
    private boolean closed;
    /** Only touched by the polling thread: when the current run of failed calls began, or null. */
    private Instant failingSince;

    /** @param cluster the cluster name or ARN to describe tasks in, or null for the default cluster */
    ClusterPoller(AwsClients aws, String cluster, Duration interval, Duration giveUpAfter, Clock clock) {
        this.ecs = aws.ecs;
        this.logs = new TaskLogs(aws);
        this.cluster = cluster;
        this.interval = interval;
        this.giveUpAfter = giveUpAfter;
        this.clock = clock;
    }

    /** One run's interest in one task; {@code last} and {@code misses} belong to the polling thread. */
    final class Subscription implements Watch {
        final String taskArn;
        final String container;
        final PhaseSink sink;
        /** Null or zero: no limit. */
        final Duration startTimeout;
        final Instant since;
        private Phase last;
        private int misses;
        /** A StopTask for the start timeout failed already (said once in the worker's log). */
        private boolean stopFailed;
        /** The task's lastStatus when its last event was sent. */
        private String lastStatus;

        private Subscription(String taskArn, String container, PhaseSink sink, Duration startTimeout) {
            this.taskArn = taskArn;
            this.container = container;
            this.sink = sink;
            this.startTimeout = startTimeout;
            this.since = clock.instant();
        }

        @Override
        public void close() {
            synchronized (lock) {
                subscriptions.remove(this);
            }
        }
    }

    /** @param startTimeout how long the task may take to start (from its creation), or null for no limit */
    Watch watch(String taskArn, String container, PhaseSink sink, Duration startTimeout) {
        Subscription s = new Subscription(taskArn, container, sink, startTimeout);
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("the ECS launcher is closed");
            }
            subscriptions.add(s);
            if (thread == null) {
                thread = Thread.ofVirtual().name("pworker-ecs-poller-" + (cluster == null ? "default" : cluster))
                        .start(this::loop);
            }
        }
        return s;
    }

    private void loop() {
        while (true) {
            synchronized (lock) {
                if (closed || subscriptions.isEmpty()) {
                    thread = null;
                    return;
                }
            }
            pollOnce();
            try {
                Thread.sleep(interval);
            } catch (InterruptedException e) {
                synchronized (lock) {
                    if (closed) {
                        return;
                    }
                }
            }
        }
    }

    private void pollOnce() {
        Map<String, List<Subscription>> byTask = new LinkedHashMap<>();
        synchronized (lock) {
            subscriptions.forEach(s -> byTask.computeIfAbsent(s.taskArn, k -> new ArrayList<>()).add(s));
        }
        List<String> arns = new ArrayList<>(byTask.keySet());
        for (int from = 0; from < arns.size(); from += BATCH) {
            List<String> batch = arns.subList(from, Math.min(arns.size(), from + BATCH));
            DescribeTasksResponse response;
            try {
                response = ecs.describeTasks(b -> b.cluster(cluster).tasks(batch));
            } catch (SdkException e) {
                failed(batch, byTask, e);
                continue;
            }
            failingSince = null;
            Map<String, Task> found = new LinkedHashMap<>();
            response.tasks().forEach(t -> found.put(t.taskArn(), t));
            for (String arn : batch) {
                Task task = found.get(arn);
                for (Subscription s : byTask.get(arn)) {
                    if (task != null) {
                        s.misses = 0;
                        Phase phase = TaskPhases.of(task, s.container);
                        event(s, task);
                        if (phase instanceof Phase.Pending && startTimedOut(s, task)) {
                            phase = stopUnstarted(s, task);
                        } else if (phase.terminal() && !phase.equals(s.last)) {
                            // before the phase: the core may drop lines logged after a terminal one
                            TaskPhases.stopLines(task, phase).forEach(line -> logLine(s, line));
                            if (crashed(phase)) {
                                phase = TaskLogs.withExcerpt(phase,
                                        logs.forward(task, s.container, line -> failureLine(s, line)));
                            }
                        }
                        if (phase != null) {
                            deliver(s, phase);
                        }
                    } else if (++s.misses >= MISSES_BEFORE_GONE) {
                        deliver(s, new Phase.Gone("ECS no longer knows task " + arn + " in cluster "
                                + (cluster == null ? "default" : cluster) + "; it was stopped long ago or deleted"));
                    }
                }
            }
        }
    }

    private static boolean crashed(Phase phase) {
        return phase instanceof Phase.Gone || (phase instanceof Phase.Exited e && e.status().code() != 0);
    }

    private boolean startTimedOut(Subscription s, Task task) {
        if (s.startTimeout == null || s.startTimeout.isZero() || s.startTimeout.isNegative()) {
            return false;
        }
        Instant created = task.createdAt() != null ? task.createdAt() : s.since;
        return !clock.instant().isBefore(created.plus(s.startTimeout));
    }

    /**
     * Stops a task that did not start in time, as prefect-aws did when its wait for RUNNING timed out; the phase
     * that ends the run, or null to try again at the next poll when ECS cannot be asked to stop it.
     */
    private Phase stopUnstarted(Subscription s, Task task) {
        long seconds = s.startTimeout.toSeconds();
        try {
            if (!DesiredStatus.STOPPED.toString().equals(task.desiredStatus())) {
                ecs.stopTask(b -> b.cluster(cluster).task(task.taskArn())
                        .reason("Did not start within " + seconds + " s (task_start_timeout_seconds)"));
            }
        } catch (SdkException e) {
            if (!s.stopFailed) {
                s.stopFailed = true;
                log.warn("Cannot stop ECS task {}, which did not start within {} s: {}; trying again at each poll",
                        task.taskArn(), seconds, e.getMessage());
            }
            return null;
        }
        return new Phase.Gone("ECS task did not start within " + seconds + " s (task_start_timeout_seconds): it "
                + "was still " + task.lastStatus() + ", so the worker stopped it");
    }

    private void failed(List<String> batch, Map<String, List<Subscription>> byTask, SdkException e) {
        Instant now = clock.instant();
        if (failingSince == null) {
            failingSince = now;
            log.warn("Cannot describe ECS tasks in cluster {}: {}; retrying every {} s", cluster, e.getMessage(),
                    interval.toSeconds());
        }
        if (Duration.between(failingSince, now).compareTo(giveUpAfter) < 0) {
            return;
        }
        for (String arn : batch) {
            for (Subscription s : byTask.get(arn)) {
                deliver(s, new Phase.Gone("the worker could not ask ECS about task " + arn + " for "
                        + giveUpAfter.toMinutes() + " minutes: " + e.getMessage()));
            }
        }
    }

    /**
     * Sends {@code prefect.ecs.task.<status>} when the task's lastStatus changed since the last poll, as
     * prefect-aws' observer does for each "ECS Task State Change". A poll sees only the statuses a task is in when
     * asked, so a short one (ACTIVATING, DEPROVISIONING) may have no event.
     */
    private void event(Subscription s, Task task) {
        String status = task.lastStatus();
        if (status == null || status.equals(s.lastStatus)) {
            return;
        }
        synchronized (lock) {
            if (!subscriptions.contains(s)) {
                return;
            }
        }
        s.lastStatus = status;
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("ecs.taskArn", task.taskArn());
        if (task.clusterArn() != null) {
            labels.put("ecs.clusterArn", task.clusterArn());
        }
        if (task.taskDefinitionArn() != null) {
            labels.put("ecs.taskDefinitionArn", task.taskDefinitionArn());
        }
        String taskId = task.taskArn().substring(task.taskArn().lastIndexOf('/') + 1);
        Instant occurred = switch (status) {
            case "RUNNING" -> task.startedAt();
            case "STOPPING" -> task.stoppingAt();
            case "STOPPED" -> task.stoppedAt();
            default -> null;
        };
        try {
            s.sink.event(new InfrastructureEvent("prefect.ecs.task." + status.toLowerCase(Locale.ROOT),
                    "prefect.ecs.task." + taskId, labels, occurred, null));
        } catch (RuntimeException e) {
            log.warn("A phase sink failed for ECS task {}", s.taskArn, e);
        }
    }

    private void logLine(Subscription s, String line) {
        try {
            s.sink.log(line);
        } catch (RuntimeException e) {
            log.warn("A phase sink failed for ECS task {}", s.taskArn, e);
        }
    }

    /** A line of the crashed task's own log: the core forwards it only when the flow never started. */
    private void failureLine(Subscription s, String line) {
        try {
            s.sink.failureLog(line);
        } catch (RuntimeException e) {
            log.warn("A phase sink failed for ECS task {}", s.taskArn, e);
        }
    }

    private void deliver(Subscription s, Phase phase) {
        if (phase.equals(s.last)) {
            return;
        }
        synchronized (lock) {
            // closed by its owner since this poll began: no more reports
            if (!subscriptions.contains(s)) {
                return;
            }
            if (phase.terminal()) {
                subscriptions.remove(s);
            }
        }
        s.last = phase;
        try {
            s.sink.report(phase);
        } catch (RuntimeException e) {
            log.warn("A phase sink failed for ECS task {}", s.taskArn, e);
        }
    }

    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            subscriptions.clear();
            if (thread != null) {
                thread.interrupt();
                thread = null;
            }
        }
    }
}
