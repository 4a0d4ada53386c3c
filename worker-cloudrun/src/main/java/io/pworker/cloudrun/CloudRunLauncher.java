package io.pworker.cloudrun;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.api.gax.core.FixedCredentialsProvider;
import com.google.api.gax.longrunning.OperationFuture;
import com.google.api.gax.rpc.AlreadyExistsException;
import com.google.api.gax.rpc.ApiException;
import com.google.api.gax.rpc.NotFoundException;
import com.google.api.gax.rpc.PermissionDeniedException;
import com.google.api.gax.rpc.UnauthenticatedException;
import com.google.auth.oauth2.GoogleCredentials;
import com.google.cloud.run.v2.Condition;
import com.google.cloud.run.v2.CreateJobRequest;
import com.google.cloud.run.v2.Execution;
import com.google.cloud.run.v2.Job;
import com.google.cloud.run.v2.JobName;
import com.google.cloud.run.v2.LocationName;
import com.google.cloud.run.v2.RunJobRequest;
import com.google.longrunning.Operation;
import com.google.protobuf.InvalidProtocolBufferException;
import io.pworker.spi.Discovered;
import io.pworker.spi.FlowRunInfo;
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
import io.pworker.spi.RunLog;
import io.pworker.spi.Watch;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Runs flow runs as Cloud Run jobs, following Prefect's cloud-run-v2 worker (worker-spec §7.5): create the job,
 * wait until it is ready, run it once, watch its execution, delete executions and job afterwards unless
 * {@code keep_job}. The infrastructure pid is the job's short name, as in Prefect; project and region come from
 * the handle when the launch recorded them, else from the configuration.
 */
final class CloudRunLauncher implements InfrastructureLauncher {

    private static final System.Logger LOG = System.getLogger(CloudRunLauncher.class.getName());

    private final PluginContext context;
    private final CloudRunSettings settings;
    private final ExecutionPoller poller;
    /** Clients per credentials (keyed by a digest, see {@link GcpCredentials#cacheKey()}). */
    private final Map<String, CloudRunApi> apis = new ConcurrentHashMap<>();
    /** Where this launcher has put or watched jobs, for {@link #discover}, besides the pool's own place. */
    private final Set<Place> places = ConcurrentHashMap.newKeySet();

    /** A project and region reached with one set of credentials. */
    private record Place(GcpCredentials credentials, String project, String region) {
    }

    /** A place with its clients. */
    private record Located(CloudRunApi api, String project, String region, boolean keepJob) {
        String parent() {
            return LocationName.of(project, region).toString();
        }

        String job(String jobId) {
            return JobName.of(project, region, jobId).toString();
        }
    }

    CloudRunLauncher(PluginContext context, CloudRunSettings settings) {
        this.context = context;
        this.settings = settings;
        this.poller = new ExecutionPoller(settings.pollInterval(), settings.lostAfter(), context.clock());
    }

    // ---- launch ----

    @Override
    public RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException {
        CloudRunJobConfiguration cfg = CloudRunJobConfiguration.from(request.configuration(), request.log());
        Located at = locate(cfg.target(), null);
        String runId = request.run().id();
        for (String jobId : jobIds(cfg, request.run())) {
            Job job = createOrAdopt(at, jobId, cfg, runId, request.log());
            if (job != null) {
                String execution = submit(at, job, request.log());
                request.log().info("Cloud Run job " + jobId + " is running execution " + ExecutionPhases.shortName(execution)
                        + " in " + at.parent() + " with command: " + String.join(" ", cfg.job().getTemplate().getTemplate()
                        .getContainers(0).getCommandList()));
                return new RunHandle(jobId, Map.of("project", at.project(), "region", at.region(), "execution", execution));
            }
            request.log().info("The job name " + jobId + " belongs to another flow run's job; trying the next one");
        }
        throw new LaunchException("every job name tried for this flow run (" + jobIds(cfg, request.run())
                + ") belongs to another flow run's job in " + at.parent());
    }

    /** The names the run's job may have, first choice first ({@link JobNames}). */
    static List<String> jobIds(CloudRunJobConfiguration cfg, FlowRunInfo run) {
        return JobNames.candidates(cfg.name() != null ? cfg.name() : run.name(), run.id());
    }

    /** The create call for the run's job under {@code jobId} in {@code parent} ({@code projects/P/locations/R}). */
    static CreateJobRequest createRequest(String parent, String jobId, CloudRunJobConfiguration cfg) {
        return CreateJobRequest.newBuilder().setParent(parent).setJobId(jobId).setJob(cfg.job()).build();
    }

    /** The run's job, created now or found from an earlier launch; null when the name is another run's. */
    private Job createOrAdopt(Located at, String jobId, CloudRunJobConfiguration cfg, String runId, RunLog log)
            throws LaunchException, InterruptedException {
        log.info("Creating Cloud Run job " + jobId + " in " + at.parent());
        OperationFuture<Job, Job> creation = at.api().jobs().createJobAsync(createRequest(at.parent(), jobId, cfg));
        Job job;
        try {
            // the library polls the operation until the job is reconciled (Prefect polls jobs.get for the same)
            job = creation.get();
        } catch (InterruptedException e) {
            creation.cancel(true);
            removeAfterFailedLaunch(at, jobId, log);
            throw e;
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof AlreadyExistsException || alreadyExists(cause)) {
                job = readJob(at, jobId);
                if (!GcpLabels.value(runId).equals(job.getLabelsMap().get(GcpLabels.FLOW_RUN_ID))) {
                    return null;
                }
                log.info("Cloud Run job " + jobId + " was created for this flow run by an earlier launch; using it");
                job = awaitReady(at, job);
            } else if (cause instanceof NotFoundException) {
                throw new LaunchException("Cloud Run found nothing at " + at.parent() + " (HTTP 404): check that region '"
                        + at.region() + "' and project '" + at.project() + "' are right, and that the credentials are "
                        + "for that project");
            } else {
                if (accepted(creation)) {
                    // the job exists but its creation failed on Google's side: do not leave it behind
                    removeAfterFailedLaunch(at, jobId, log);
                }
                throw new LaunchException("cannot create Cloud Run job " + jobId + " in " + at.parent() + ": "
                        + describe(cause), cause);
            }
        }
        Condition ready = job.getTerminalCondition();
        if (ready.getState() == Condition.State.CONDITION_FAILED) {
            removeAfterFailedLaunch(at, jobId, log);
            String why = ready.getReason() == Condition.CommonReason.CONTAINER_MISSING
                    ? "its image cannot be found (" + cfg.job().getTemplate().getTemplate().getContainers(0).getImage() + ")"
                    : ready.getReason() + (ready.getMessage().isBlank() ? "" : ": " + ready.getMessage());
            throw new LaunchException("Cloud Run job " + jobId + " did not become ready: " + why);
        }
        return job;
    }

    /** Whether the create call itself was accepted (an operation exists), so that a job may exist. */
    private static boolean accepted(OperationFuture<Job, Job> creation) {
        try {
            return creation.getInitialFuture().isDone() && creation.getInitialFuture().get() != null;
        } catch (ExecutionException | InterruptedException | RuntimeException e) {
            return false;
        }
    }

    /** Over REST, a 409 reaches us as ABORTED whatever Google's status said; a 409 on create means the name is taken. */
    private static boolean alreadyExists(Throwable e) {
        return e instanceof com.google.api.gax.rpc.AbortedException aborted
                && aborted.getStatusCode().getTransportCode() instanceof Integer http && http == 409;
    }

    /**
     * A job found rather than created may still be reconciling, and no operation of ours is left to follow:
     * look at it every poll interval, as Prefect does for every job.
     */
    private Job awaitReady(Located at, Job job) throws LaunchException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (job.getTerminalCondition().getState() != Condition.State.CONDITION_SUCCEEDED
                && job.getTerminalCondition().getState() != Condition.State.CONDITION_FAILED
                && job.getLatestCreatedExecution().getName().isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new LaunchException("Cloud Run job " + ExecutionPhases.shortName(job.getName())
                        + " did not become ready within 5 minutes");
            }
            Thread.sleep(settings.pollInterval());
            job = readJob(at, ExecutionPhases.shortName(job.getName()));
        }
        return job;
    }

    /**
     * Runs the job once and returns its execution's name. A run call that fails with a transient error may still
     * have started an execution, so before trying again the job is read: a new execution there is the one to
     * use. When that read fails too, nothing is retried (worker-spec §7.5 step 3).
     */
    private String submit(Located at, Job job, RunLog log) throws LaunchException, InterruptedException {
        String jobId = ExecutionPhases.shortName(job.getName());
        String before = job.getLatestCreatedExecution().getName();
        if (!before.isEmpty()) {
            // a job of ours that already ran: it runs once per flow run, so that execution is this run's
            log.info("Cloud Run job " + jobId + " already started execution " + ExecutionPhases.shortName(before)
                    + "; following it");
            return before;
        }
        CloudRunSettings.Retry retry = settings.submit();
        for (int attempt = 1; ; attempt++) {
            if (Thread.interrupted()) {
                removeAfterFailedLaunch(at, jobId, log);
                throw new InterruptedException("cancelled before Cloud Run job " + jobId + " was run");
            }
            log.info("Submitting Cloud Run job " + jobId + " for execution");
            try {
                Operation op = at.api().jobs().runJobCallable().call(RunJobRequest.newBuilder().setName(job.getName()).build());
                return executionOf(at, jobId, op);
            } catch (ApiException e) {
                if (!CloudRunApi.TRANSIENT.contains(e.getStatusCode().getCode())) {
                    removeAfterFailedLaunch(at, jobId, log);
                    throw new LaunchException("Cloud Run refused to run job " + jobId + ": " + describe(e), e);
                }
                String now;
                try {
                    now = at.api().jobs().getJob(job.getName()).getLatestCreatedExecution().getName();
                } catch (ApiException again) {
                    log.warn("Running Cloud Run job " + jobId + " failed (" + describe(e) + ") and the job cannot be read "
                            + "to see whether an execution started (" + describe(again) + "); not retrying, to avoid "
                            + "a second execution");
                    throw new LaunchException("cannot run Cloud Run job " + jobId + ": " + describe(e), e);
                }
                if (!now.isEmpty() && !now.equals(before)) {
                    log.warn("Running Cloud Run job " + jobId + " answered " + describe(e) + ", but execution "
                            + ExecutionPhases.shortName(now) + " did start; using it rather than starting another");
                    return now;
                }
                if (attempt >= retry.maxAttempts()) {
                    removeAfterFailedLaunch(at, jobId, log);
                    throw new LaunchException("cannot run Cloud Run job " + jobId + " after " + attempt + " attempts: "
                            + describe(e), e);
                }
                Duration pause = backoff(retry, attempt);
                log.warn("Transient error when running Cloud Run job " + jobId + " (" + describe(e) + "); trying again in "
                        + pause.toMillis() + " ms (attempt " + attempt + " of " + retry.maxAttempts() + ")");
                try {
                    Thread.sleep(pause);
                } catch (InterruptedException interrupted) {
                    removeAfterFailedLaunch(at, jobId, log);
                    throw interrupted;
                }
            }
        }
    }

    /** The execution a run call started: named in the operation's metadata, else the job's latest. */
    private String executionOf(Located at, String jobId, Operation op) throws LaunchException {
        if (op.hasMetadata() && op.getMetadata().is(Execution.class)) {
            try {
                String name = op.getMetadata().unpack(Execution.class).getName();
                if (!name.isEmpty()) {
                    return name;
                }
            } catch (InvalidProtocolBufferException e) {
                // fall back to the job
            }
        }
        String latest = readJob(at, jobId).getLatestCreatedExecution().getName();
        if (latest.isEmpty()) {
            throw new LaunchException("Cloud Run accepted running job " + jobId + " but shows no execution for it");
        }
        return latest;
    }

    private static Duration backoff(CloudRunSettings.Retry retry, int attempt) {
        long base = retry.initialDelay().toMillis() << Math.min(attempt - 1, 20);
        long capped = Math.min(base, retry.maxDelay().toMillis());
        long jitter = ThreadLocalRandom.current().nextLong(Math.min(1000, capped) + 1);
        return Duration.ofMillis(Math.min(capped + jitter, Math.max(retry.maxDelay().toMillis(), capped)));
    }

    /**
     * Nothing of a failed or cancelled launch must stay behind to run or to count against the project's job
     * quota: executions and job go, unless the configuration keeps jobs (then running executions are cancelled).
     * Runs with the interrupt flag cleared, so that a cancelled launch can still clean up.
     */
    private void removeAfterFailedLaunch(Located at, String jobId, RunLog log) {
        boolean interrupted = Thread.interrupted();
        try {
            if (at.keepJob()) {
                cancel(at, at.job(jobId));
            } else {
                remove(at, at.job(jobId));
            }
        } catch (NotFoundException e) {
            // nothing was created
        } catch (Exception e) {
            log.warn("Could not remove Cloud Run job " + jobId + " after the failed launch: " + describe(e));
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---- observe ----

    @Override
    public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) throws InfrastructureException {
        Located at = locate(CloudRunTarget.from(configuration), handle);
        String job = at.job(handle.infrastructurePid());
        AtomicReference<String> execution = new AtomicReference<>(handle.state().get("execution"));
        return poller.watch("Cloud Run job " + handle.infrastructurePid(), () -> look(at, job, execution, sink::log),
                sink);
    }

    @Override
    public Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException {
        Located at = locate(CloudRunTarget.from(configuration), handle);
        try {
            // no run log to write to here: the reason carries the same words
            return look(at, at.job(handle.infrastructurePid()), new AtomicReference<>(handle.state().get("execution")),
                    line -> { });
        } catch (ApiException e) {
            throw new InfrastructureException("cannot read Cloud Run job " + handle.infrastructurePid() + " in "
                    + at.parent() + ": " + describe(e), e);
        }
    }

    /**
     * One look; {@code execution} is filled in from the job when the handle did not know it. A failed execution's
     * words go to {@code runLog} before the phase is returned (and reported), as the core may drop later lines.
     */
    private static Phase look(Located at, String job, AtomicReference<String> execution, Consumer<String> runLog) {
        String jobId = ExecutionPhases.shortName(job);
        if (execution.get() == null || execution.get().isEmpty()) {
            Job found;
            try {
                found = at.api().jobs().getJob(job);
            } catch (NotFoundException e) {
                return new Phase.Gone("The Cloud Run job " + jobId + " no longer exists: it was deleted outside the worker.");
            }
            if (found.getLatestCreatedExecution().getName().isEmpty()) {
                return new Phase.Gone("The Cloud Run job " + jobId + " exists but never started an execution: the launch "
                        + "that created it did not finish.");
            }
            execution.set(found.getLatestCreatedExecution().getName());
        }
        try {
            Execution seen = at.api().executions().getExecution(execution.get());
            Phase phase = ExecutionPhases.of(seen);
            if (phase instanceof Phase.Exited exited && !exited.status().successful()) {
                ExecutionPhases.failureLines(seen).forEach(runLog);
                try {
                    phase = ExecutionPhases.withExitCode(exited, at.api().tasks().listTasks(execution.get()).iterateAll());
                } catch (ApiException e) {
                    // the code stays 1, as Prefect reports it
                }
            }
            return phase;
        } catch (NotFoundException e) {
            return new Phase.Gone("The Cloud Run execution " + ExecutionPhases.shortName(execution.get())
                    + " of job " + jobId + " was deleted before it finished.");
        }
    }

    /**
     * Jobs labelled with the scope's pool (and worker) in the pool's project and region, reached with the pool's
     * credentials (the template's defaults in the scope), and wherever this launcher has put or watched jobs.
     * The pool's place is what a just restarted worker has; when it cannot be reached (no project to be found,
     * say) the other places are still listed, and the error is raised only when there are none.
     */
    @Override
    public List<Discovered> discover(InfrastructureScope scope) throws InfrastructureException {
        LaunchException poolPlace = null;
        if (!scope.configuration().isEmpty()) {
            try {
                locate(CloudRunTarget.from(scope.configuration()), null);
            } catch (LaunchException e) {
                poolPlace = e;
            }
        }
        if (poolPlace != null && places.isEmpty()) {
            throw new InfrastructureException("cannot list the pool's Cloud Run jobs: " + poolPlace.getMessage(), poolPlace);
        }
        if (poolPlace != null) {
            LOG.log(System.Logger.Level.WARNING, "Cannot list the pool's Cloud Run jobs, only where this worker has "
                    + "put jobs: " + poolPlace.getMessage());
        }
        // two credentials may reach the same project: each job once
        Map<String, Discovered> out = new LinkedHashMap<>();
        for (Place place : List.copyOf(places)) {
            Located at = locate(new CloudRunTarget(place.region(), place.credentials(), false), null);
            try {
                for (Job job : at.api().jobs().listJobs(at.parent()).iterateAll()) {
                    Map<String, String> labels = job.getLabelsMap();
                    if (!GcpLabels.value(scope.workPoolId()).equals(labels.get(GcpLabels.WORK_POOL_ID))
                            || (scope.workerName() != null
                            && !GcpLabels.value(scope.workerName()).equals(labels.get(GcpLabels.WORKER_NAME)))
                            || !labels.containsKey(GcpLabels.FLOW_RUN_ID)) {
                        continue;
                    }
                    String jobId = ExecutionPhases.shortName(job.getName());
                    String execution = job.getLatestCreatedExecution().getName();
                    Phase phase = execution.isEmpty() ? new Phase.Pending("Cloud Run job " + jobId + " has no execution yet")
                            : ExecutionPhases.of(job.getLatestCreatedExecution());
                    Map<String, String> state = execution.isEmpty()
                            ? Map.of("project", at.project(), "region", at.region())
                            : Map.of("project", at.project(), "region", at.region(), "execution", execution);
                    out.putIfAbsent(job.getName(),
                            new Discovered(labels.get(GcpLabels.FLOW_RUN_ID), new RunHandle(jobId, state), phase));
                }
            } catch (ApiException e) {
                throw new InfrastructureException("cannot list Cloud Run jobs in " + at.parent() + ": " + describe(e), e);
            }
        }
        return List.copyOf(out.values());
    }

    // ---- stop and clean up ----

    /**
     * Cloud Run has no signal to send: deleting the executions stops them (Cloud Run gives the container its own
     * grace period), then the job goes. With {@code keep_job} the running executions are cancelled instead and
     * everything is kept.
     */
    @Override
    public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace)
            throws InfrastructureException, InterruptedException {
        Located at = locate(CloudRunTarget.from(configuration), handle);
        String job = at.job(handle.infrastructurePid());
        try {
            if (at.keepJob()) {
                return cancel(at, job);
            }
            return remove(at, job) ? KillOutcome.KILLED : KillOutcome.NOT_FOUND;
        } catch (ApiException e) {
            throw new InfrastructureException("cannot stop Cloud Run job " + handle.infrastructurePid() + " in "
                    + at.parent() + ": " + describe(e), e);
        }
    }

    @Override
    public void release(RunHandle handle, ObjectNode configuration) {
        try {
            Located at = locate(CloudRunTarget.from(configuration), handle);
            if (!at.keepJob()) {
                remove(at, at.job(handle.infrastructurePid()));
            }
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "Could not delete Cloud Run job " + handle.infrastructurePid()
                    + " after its flow run: " + describe(e));
        }
    }

    /**
     * Deletes the job's executions, each to the end of its operation (Prefect pauses 3 s after each instead),
     * then the job. False when the job did not exist.
     */
    private boolean remove(Located at, String job) throws InterruptedException {
        boolean deletedSome = false;
        try {
            for (Execution e : at.api().executions().listExecutions(job).iterateAll()) {
                try {
                    await(at.api().executions().deleteExecutionAsync(e.getName()));
                    deletedSome = true;
                } catch (NotFoundException gone) {
                    // deleted meanwhile
                }
            }
        } catch (NotFoundException e) {
            // no such job; its deletion below says so too
        }
        try {
            await(at.api().jobs().deleteJobAsync(job));
            return true;
        } catch (NotFoundException e) {
            return deletedSome;
        }
    }

    private KillOutcome cancel(Located at, String job) throws InterruptedException {
        try {
            for (Execution e : at.api().executions().listExecutions(job).iterateAll()) {
                if (!e.hasCompletionTime()) {
                    try {
                        await(at.api().executions().cancelExecutionAsync(e.getName()));
                    } catch (NotFoundException gone) {
                        // deleted meanwhile
                    } catch (com.google.api.gax.rpc.FailedPreconditionException done) {
                        // it finished meanwhile
                    }
                }
            }
            return KillOutcome.KILLED;
        } catch (NotFoundException e) {
            return KillOutcome.NOT_FOUND;
        }
    }

    /** Waits for an operation through the library's polling; its failure comes back as the client's exception. */
    private static <T> T await(OperationFuture<T, ?> op) throws InterruptedException {
        try {
            return op.get();
        } catch (InterruptedException e) {
            op.cancel(true);
            throw e;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof ApiException api) {
                throw api;
            }
            throw new IllegalStateException(describe(e.getCause()), e.getCause());
        }
    }

    private Job readJob(Located at, String jobId) throws LaunchException {
        try {
            return at.api().jobs().getJob(at.job(jobId));
        } catch (ApiException e) {
            throw new LaunchException("cannot read Cloud Run job " + jobId + " in " + at.parent() + ": " + describe(e), e);
        }
    }

    // ---- clients ----

    /**
     * The clients for a configuration's credentials, and the place: the handle's project and region when the
     * launch recorded them (the pool's template may have changed since), else the configuration's.
     */
    private Located locate(CloudRunTarget target, RunHandle handle) throws LaunchException {
        CloudRunApi api = apis.get(target.credentials().cacheKey());
        if (api == null) {
            synchronized (apis) {
                api = apis.get(target.credentials().cacheKey());
                if (api == null) {
                    api = connect(target.credentials());
                    apis.put(target.credentials().cacheKey(), api);
                }
            }
        }
        String project = handle != null && handle.state().containsKey("project") ? handle.state().get("project")
                : target.credentials().projectOr(api.project());
        String region = handle != null && handle.state().containsKey("region") ? handle.state().get("region") : target.region();
        places.add(new Place(target.credentials(), project, region));
        return new Located(api, project, region, target.keepJob());
    }

    private CloudRunApi connect(GcpCredentials source) throws LaunchException {
        GoogleCredentials credentials = source.load(context.environment());
        try {
            return CloudRunApi.connect(settings, FixedCredentialsProvider.create(credentials),
                    GcpCredentials.defaultProject(credentials, context.environment()));
        } catch (IOException | RuntimeException e) {
            throw new LaunchException("cannot set up the Cloud Run client for " + settings.endpoint() + ": " + describe(e), e);
        }
    }

    @Override
    public void close() {
        poller.close();
        apis.values().forEach(CloudRunApi::close);
        apis.clear();
    }

    /** A client failure in a line: the HTTP status when there is one, and the server's message. */
    static String describe(Throwable e) {
        if (e instanceof PermissionDeniedException || e instanceof UnauthenticatedException) {
            return ((ApiException) e).getStatusCode().getCode() + " (the credentials lack a permission: the service account "
                    + "needs roles/run.developer and roles/iam.serviceAccountUser): " + firstLine(e.getMessage());
        }
        if (e instanceof ApiException api) {
            return api.getStatusCode().getCode() + ": " + firstLine(e.getMessage());
        }
        return e.getClass().getSimpleName() + ": " + firstLine(e.getMessage());
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "no message";
        }
        String line = message.strip();
        int nl = line.indexOf('\n');
        return nl < 0 ? line : line.substring(0, nl);
    }
}
