package io.pworker.ecs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Discovered;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.Watch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.ecs.model.ClusterNotFoundException;
import software.amazon.awssdk.services.ecs.model.DesiredStatus;
import software.amazon.awssdk.services.ecs.model.InvalidParameterException;
import software.amazon.awssdk.services.ecs.model.RunTaskRequest;
import software.amazon.awssdk.services.ecs.model.RunTaskResponse;
import software.amazon.awssdk.services.ecs.model.Tag;
import software.amazon.awssdk.services.ecs.model.Task;
import software.amazon.awssdk.services.ecs.model.TaskField;

/**
 * Runs flow runs as ECS tasks. Unlike Prefect's ECS worker, which forgets a task once it is created and needs an
 * EventBridge rule and an SQS queue to notice that it crashed, this launcher watches its tasks itself: one poller
 * per cluster describes the tasks of all runs in flight in batches of 100.
 *
 * <p>A task is started with {@code startedBy = pworker-<flow run id>}, so a launch repeated for the same run
 * (after a worker crash, or a retried submission) finds the running task instead of starting a second one.
 */
final class EcsLauncher implements InfrastructureLauncher {

    static final String STOP_REASON = "Stopped by Prefect worker";
    static final String DEFAULT_PYTHON = "3.12";
    private static final Duration GIVE_UP_AFTER = Duration.ofMinutes(10);
    private static final Logger log = LoggerFactory.getLogger(EcsLauncher.class);

    private final PluginContext context;
    private final Duration pollInterval;
    private final String defaultImage;
    private final Map<AwsSettings, AwsClients> clients = new ConcurrentHashMap<>();
    private final Map<PollerKey, ClusterPoller> pollers = new ConcurrentHashMap<>();
    private final TaskDefinitionResolver definitions = new TaskDefinitionResolver();
    /** Clusters this launcher has worked with, for {@link #discover}. */
    private final Set<PollerKey> knownClusters = ConcurrentHashMap.newKeySet();
    /** Where the steps of a launch run, so that the launching thread can be interrupted (see {@link #interruptibly}). */
    private final ExecutorService calls = Executors.newVirtualThreadPerTaskExecutor();

    private record PollerKey(AwsSettings settings, String cluster) {
    }

    private EcsLauncher(PluginContext context, Duration pollInterval, String defaultImage) {
        this.context = context;
        this.pollInterval = pollInterval;
        this.defaultImage = defaultImage;
    }

    /**
     * Reads the launcher's own settings from the worker's environment: {@code PWORKER_ECS_POLL_SECONDS} (how often
     * each cluster's tasks are described, default 5) and {@code PWORKER_ECS_DEFAULT_IMAGE}. AWS is contacted only
     * when a run needs it, since every run may bring its own credentials.
     */
    static EcsLauncher create(PluginContext context) throws InfrastructureException {
        String poll = context.environment().getOrDefault("PWORKER_ECS_POLL_SECONDS", "5");
        Duration interval;
        try {
            interval = Duration.ofMillis(Math.round(Double.parseDouble(poll.strip()) * 1000));
        } catch (NumberFormatException e) {
            throw new InfrastructureException("PWORKER_ECS_POLL_SECONDS='" + poll + "' is not a number of seconds");
        }
        if (interval.toMillis() < 50) {
            throw new InfrastructureException("PWORKER_ECS_POLL_SECONDS='" + poll + "' is too small");
        }
        return new EcsLauncher(context, interval, context.environment().get("PWORKER_ECS_DEFAULT_IMAGE"));
    }

    // ---- launch ----

    @Override
    public RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException {
        EcsJobConfiguration c = EcsJobConfiguration.from(request.configuration());
        AwsClients aws = clients(c.credentials());
        String cluster = c.effectiveCluster();
        String startedBy = RunTaskRequests.startedBy(request.run().id());
        knownClusters.add(new PollerKey(c.credentials(), cluster));
        try {
            RunHandle adopted = interruptibly(() -> adopt(aws, c, startedBy, request));
            if (adopted != null) {
                return adopted;
            }
            TaskDefinitionResolver.Definition definition =
                    interruptibly(() -> definitions.resolve(aws, c, request, defaultImage(request)));
            ObjectNode network = interruptibly(() -> network(aws, c, definition));
            // the token makes the SDK's own retries of this one call idempotent; a later launch adopts instead
            RunTaskRequest run = RunTaskRequests.request(c, definition.json(), definition.arn(), network,
                    definition.registeredForRun(), startedBy, UUID.randomUUID().toString());
            Future<RunTaskResponse> running = calls.submit(() -> aws.ecs.runTask(run));
            RunTaskResponse response;
            try {
                response = running.get();
            } catch (InterruptedException e) {
                stopWhenStarted(aws, cluster, startedBy, running);
                throw new InterruptedException("interrupted while starting the ECS task");
            } catch (ExecutionException e) {
                throw rethrown(e.getCause());
            }
            if (!response.failures().isEmpty()) {
                throw new LaunchException("Failed to run ECS task: " + EcsErrors.failures(response.failures()));
            }
            if (response.tasks().isEmpty()) {
                throw new LaunchException("Failed to run ECS task: ECS answered RunTask without a task or a reason");
            }
            Task task = response.tasks().getFirst();
            if (Thread.interrupted()) {
                stopStarted(aws, cluster, List.of(task.taskArn()), startedBy);
                throw new InterruptedException("interrupted while starting the ECS task");
            }
            String container = TaskDefinitions.containerName(c, definition.json());
            request.log().info("Created ECS task " + task.taskArn() + " from task definition " + definition.arn());
            return handle(cluster, task, container);
        } catch (ClusterNotFoundException e) {
            throw new LaunchException("ECS cluster '" + (cluster == null ? "default" : cluster) + "' does not exist in "
                    + "region " + aws.region + "; create it or set 'cluster' to an existing one");
        } catch (AwsServiceException e) {
            throw EcsErrors.friendly("Starting the ECS task", e);
        } catch (SdkClientException e) {
            throw new LaunchException("cannot call AWS ECS in region " + aws.region + " (network or credentials): "
                    + e.getMessage(), e);
        }
    }

    /**
     * Runs one step of a launch on a thread of its own and waits for it, so that an interrupt of the launching
     * thread is noticed at once: the SDK's blocking I/O may swallow an interrupt, or retry after it.
     */
    private <T> T interruptibly(Callable<T> step) throws LaunchException, InterruptedException {
        Future<T> f = calls.submit(step);
        try {
            return f.get();
        } catch (InterruptedException e) {
            f.cancel(true);
            throw new InterruptedException("interrupted while starting the ECS task");
        } catch (ExecutionException e) {
            throw rethrown(e.getCause());
        }
    }

    /** The cause of a failed step, to throw: a LaunchException or an Error as it is, a RuntimeException to throw. */
    private static RuntimeException rethrown(Throwable cause) throws LaunchException {
        if (cause instanceof LaunchException l) {
            throw l;
        }
        if (cause instanceof Error e) {
            throw e;
        }
        if (cause instanceof RuntimeException r) {
            return r;
        }
        throw new LaunchException("launching the ECS task failed: " + cause, cause);
    }

    /** The awsvpc configuration an awsvpc definition needs when the request has none, else null. */
    private static ObjectNode network(AwsClients aws, EcsJobConfiguration c,
            TaskDefinitionResolver.Definition definition)
            throws LaunchException {
        return switch (Networks.needed(c, definition.json())) {
            case NONE -> null;
            case INFERRED -> Networks.infer(aws.ec2, c.vpcId());
            case CONFIGURED -> Networks.custom(aws.ec2, c.vpcId(), c.networkConfiguration());
        };
    }

    /**
     * An interrupted RunTask may still start a task: wait (bounded) for its answer and stop what it started, or
     * when there is no answer, whatever runs under this launch's {@code startedBy}.
     */
    private static void stopWhenStarted(AwsClients aws, String cluster, String startedBy,
            Future<RunTaskResponse> running) {
        List<String> arns = List.of();
        try {
            arns = running.get(AwsClients.CALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS).tasks().stream()
                    .map(Task::taskArn).toList();
        } catch (ExecutionException | TimeoutException e) {
            // no answer: look for the task by its startedBy
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stopStarted(aws, cluster, arns, startedBy);
    }

    /** A live task started for the same flow run by an earlier launch, as a handle, or null. */
    private RunHandle adopt(AwsClients aws, EcsJobConfiguration c, String startedBy, LaunchRequest request) {
        String cluster = c.effectiveCluster();
        List<String> arns = aws.ecs.listTasks(b -> b.cluster(cluster).startedBy(startedBy)
                .desiredStatus(DesiredStatus.RUNNING)).taskArns();
        if (arns.isEmpty()) {
            return null;
        }
        for (Task task : aws.ecs.describeTasks(b -> b.cluster(cluster).tasks(arns)).tasks()) {
            if (!"STOPPED".equals(task.lastStatus())) {
                request.log().info("Found ECS task " + task.taskArn() + " already started for this flow run; "
                        + "following it instead of starting another");
                return handle(cluster, task, TaskDefinitions.containerName(c, c.taskDefinition()));
            }
        }
        return null;
    }

    private static RunHandle handle(String cluster, Task task, String container) {
        // Prefect's format: the configured cluster when one was named, else the task's cluster ARN
        String pid = (cluster != null ? cluster : task.clusterArn()) + "::" + task.taskArn();
        return new RunHandle(pid, Map.of("cluster_arn", task.clusterArn(), "container", container));
    }

    private String defaultImage(LaunchRequest request) {
        return defaultImage(defaultImage, request);
    }

    /** The image of a container that names none: {@code PWORKER_ECS_DEFAULT_IMAGE}, else Prefect's of the run's version. */
    static String defaultImage(String configured, LaunchRequest request) {
        if (configured != null && !configured.isBlank()) {
            return configured;
        }
        String version = request.configuration().path("labels").path("prefect.io/version").asText("");
        return "prefecthq/prefect:" + (version.matches("\\d+\\.\\d+\\.\\d+") ? version : "3") + "-python"
                + DEFAULT_PYTHON;
    }

    /** Stops {@code arns}, or when there are none, the running tasks started under {@code startedBy}. */
    private static void stopStarted(AwsClients aws, String cluster, List<String> arns, String startedBy) {
        boolean interrupted = Thread.interrupted();
        try {
            List<String> targets = !arns.isEmpty() ? arns : aws.ecs.listTasks(b -> b.cluster(cluster)
                    .startedBy(startedBy).desiredStatus(DesiredStatus.RUNNING)).taskArns();
            for (String arn : targets) {
                aws.ecs.stopTask(b -> b.cluster(cluster).task(arn).reason(STOP_REASON));
            }
        } catch (SdkException e) {
            log.warn("Could not stop the ECS task of an interrupted launch ({}): {}", startedBy, e.getMessage());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---- after launch ----

    @Override
    public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) throws InfrastructureException {
        EcsPid pid = EcsPid.of(handle);
        AwsSettings settings = settings(configuration);
        AwsClients aws = clients(settings);
        PollerKey key = new PollerKey(settings, pid.cluster());
        knownClusters.add(key);
        ClusterPoller poller = pollers.computeIfAbsent(key,
                k -> new ClusterPoller(aws, k.cluster(), pollInterval, GIVE_UP_AFTER, context.clock()));
        return poller.watch(pid.taskArn(), container(handle, configuration), sink, startTimeout(configuration));
    }

    @Override
    public Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException,
            InterruptedException {
        EcsPid pid = EcsPid.of(handle);
        AwsClients aws = clients(settings(configuration));
        Task task = describe(aws, pid, false);
        if (task == null) {
            return new Phase.Gone("ECS has no task " + pid.taskArn() + " in cluster " + pid.cluster()
                    + " (stopped tasks are kept for about an hour)");
        }
        return TaskPhases.of(task, container(handle, configuration));
    }

    /** StopTask with Prefect's reason; ECS sends SIGTERM, then SIGKILL after the container's stopTimeout. */
    @Override
    public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace)
            throws InfrastructureException, InterruptedException {
        EcsPid pid = EcsPid.of(handle);
        AwsClients aws = clients(settings(configuration));
        if (pid.region() != null && !pid.region().equals(aws.region.id())) {
            return KillOutcome.NOT_AVAILABLE;
        }
        Task task = describe(aws, pid, false);
        if (task == null || "STOPPED".equals(task.lastStatus())) {
            return KillOutcome.NOT_FOUND;
        }
        try {
            aws.ecs.stopTask(b -> b.cluster(pid.cluster()).task(pid.taskArn()).reason(STOP_REASON));
            return KillOutcome.KILLED;
        } catch (InvalidParameterException e) {
            if (e.getMessage() != null && e.getMessage().toLowerCase().contains("not found")) {
                return KillOutcome.NOT_FOUND;
            }
            throw new InfrastructureException("cannot stop ECS task " + pid + ": " + e.getMessage(), e);
        } catch (AbortedException e) {
            Thread.interrupted();
            throw new InterruptedException("interrupted while stopping ECS task " + pid);
        } catch (SdkException e) {
            throw new InfrastructureException("cannot stop ECS task " + pid + ": " + e.getMessage(), e);
        }
    }

    /** Deregisters the task definition of a stopped task tagged for it (a definition registered for the run). */
    @Override
    public void release(RunHandle handle, ObjectNode configuration) {
        try {
            EcsPid pid = EcsPid.of(handle);
            AwsClients aws = clients(settings(configuration));
            Task task = describe(aws, pid, true);
            if (task == null || task.tags().stream().noneMatch(t -> RunTaskRequests.DEREGISTER_TAG.equals(t.key())
                    && "true".equals(t.value()))) {
                return;
            }
            if (!"STOPPED".equals(task.lastStatus())) {
                log.warn("Keeping task definition {}: its task {} has not stopped", task.taskDefinitionArn(), pid);
                return;
            }
            aws.ecs.deregisterTaskDefinition(b -> b.taskDefinition(task.taskDefinitionArn()));
            definitions.forget(task.taskDefinitionArn());
            log.info("Deregistered task definition {} of stopped ECS task {}", task.taskDefinitionArn(), pid);
        } catch (InfrastructureException | SdkException e) {
            log.warn("Could not release ECS task {}: {}", handle.infrastructurePid(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Running tasks labelled with the scope's pool (and worker), in the pool's cluster with the pool's credentials
     * (the template's defaults in the scope) and in every cluster this launcher has worked with since it was
     * created. The pool's cluster matters most right after a restart, when this launcher has worked with none.
     */
    @Override
    public List<Discovered> discover(InfrastructureScope scope) throws InfrastructureException, InterruptedException {
        Set<PollerKey> where = new LinkedHashSet<>();
        if (!scope.configuration().isEmpty()) {
            where.add(new PollerKey(settings(scope.configuration()), EcsJobConfiguration.clusterOf(scope.configuration())));
        }
        where.addAll(knownClusters);
        // the default cluster may be known by name and by null: list each task once
        Map<String, Discovered> out = new LinkedHashMap<>();
        for (PollerKey key : where) {
            AwsClients aws = clients(key.settings());
            try {
                List<String> arns = new ArrayList<>();
                aws.ecs.listTasksPaginator(b -> b.cluster(key.cluster()).desiredStatus(DesiredStatus.RUNNING))
                        .taskArns().forEach(arns::add);
                for (int from = 0; from < arns.size(); from += ClusterPoller.BATCH) {
                    List<String> batch = arns.subList(from, Math.min(arns.size(), from + ClusterPoller.BATCH));
                    for (Task task : aws.ecs.describeTasks(b -> b.cluster(key.cluster()).tasks(batch)
                            .include(TaskField.TAGS)).tasks()) {
                        Map<String, String> tags = new HashMap<>();
                        task.tags().forEach((Tag t) -> tags.put(t.key(), t.value()));
                        String runId = tags.get("prefect.io/flow-run-id");
                        if (runId == null || !scope.workPoolId().equals(tags.get("prefect.io/work-pool-id"))
                                || (scope.workerName() != null
                                        && !Values.tagSlug(scope.workerName()).equals(tags.get("prefect.io/worker-name")))) {
                            continue;
                        }
                        RunHandle h = handle(key.cluster(), task, TaskDefinitions.DEFAULT_CONTAINER);
                        out.putIfAbsent(task.taskArn(),
                                new Discovered(runId, h, TaskPhases.of(task, TaskDefinitions.DEFAULT_CONTAINER)));
                    }
                }
            } catch (AbortedException e) {
                Thread.interrupted();
                throw new InterruptedException("interrupted while listing ECS tasks");
            } catch (SdkException e) {
                throw new InfrastructureException("cannot list ECS tasks in cluster "
                        + (key.cluster() == null ? "default" : key.cluster()) + ": " + e.getMessage(), e);
            }
        }
        return List.copyOf(out.values());
    }

    @Override
    public void close() {
        calls.shutdownNow();
        pollers.values().forEach(ClusterPoller::close);
        pollers.clear();
        clients.values().forEach(AwsClients::close);
        clients.clear();
    }

    // ---- helpers ----

    /** The task, or null when ECS does not know it (real ECS lists it as MISSING; moto leaves it out). */
    private static Task describe(AwsClients aws, EcsPid pid, boolean tags) throws InfrastructureException,
            InterruptedException {
        try {
            return aws.ecs.describeTasks(b -> {
                b.cluster(pid.cluster()).tasks(pid.taskArn());
                if (tags) {
                    b.include(TaskField.TAGS);
                }
            }).tasks().stream().filter(t -> pid.taskArn().equals(t.taskArn())).findFirst().orElse(null);
        } catch (ClusterNotFoundException e) {
            return null;
        } catch (AbortedException e) {
            Thread.interrupted();
            throw new InterruptedException("interrupted while describing ECS task " + pid);
        } catch (SdkException e) {
            throw new InfrastructureException("cannot describe ECS task " + pid + ": " + e.getMessage(), e);
        }
    }

    private AwsClients clients(AwsSettings settings) throws LaunchException {
        AwsClients existing = clients.get(settings);
        if (existing != null) {
            return existing;
        }
        synchronized (clients) {
            AwsClients c = clients.get(settings);
            if (c == null) {
                c = AwsClients.connect(settings, context.environment());
                clients.put(settings, c);
            }
            return c;
        }
    }

    private static AwsSettings settings(ObjectNode configuration) throws LaunchException {
        return configuration == null ? AwsSettings.DEFAULTS : AwsSettings.from(configuration.get("aws_credentials"));
    }

    /** {@code task_start_timeout_seconds}; null (no limit) when unset, zero or not a number. */
    private static Duration startTimeout(ObjectNode configuration) {
        JsonNode v = configuration == null ? null : configuration.get("task_start_timeout_seconds");
        if (v == null || !(v.isNumber() || v.isTextual())) {
            return null;
        }
        try {
            double seconds = Double.parseDouble(v.asText().strip());
            return seconds > 0 ? Duration.ofMillis(Math.round(seconds * 1000)) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String container(RunHandle handle, ObjectNode configuration) {
        String name = handle.state().get("container");
        if (name == null && configuration != null) {
            name = configuration.path("container_name").asText(null);
        }
        return name == null || name.isBlank() ? TaskDefinitions.DEFAULT_CONTAINER : name;
    }

}
