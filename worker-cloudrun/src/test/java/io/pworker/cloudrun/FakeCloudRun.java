package io.pworker.cloudrun;

import com.google.cloud.run.v2.Condition;
import com.google.cloud.run.v2.Container;
import com.google.cloud.run.v2.EnvVar;
import com.google.cloud.run.v2.Execution;
import com.google.cloud.run.v2.ExecutionReference;
import com.google.cloud.run.v2.Job;
import com.google.cloud.run.v2.ListExecutionsResponse;
import com.google.cloud.run.v2.ListJobsResponse;
import com.google.cloud.run.v2.ListTasksResponse;
import com.google.cloud.run.v2.RunJobRequest;
import com.google.cloud.run.v2.Task;
import com.google.cloud.run.v2.TaskAttemptResult;
import com.google.longrunning.Operation;
import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;
import com.google.protobuf.util.JsonFormat;
import com.google.protobuf.util.JsonFormat.TypeRegistry;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.PublicKey;
import java.security.Signature;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntConsumer;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * A fake Cloud Run Admin API v2 on the JDK's HttpServer, loopback only: jobs create/get/list/run/delete,
 * executions get/list/delete/cancel, tasks list, long-running operations whose {@code done} flips, OAuth tokens
 * for service account keys, and Google's error shape. Request bodies are parsed strictly into the library's own
 * message classes (an unknown field is a 400), and every response is printed from those classes and parsed back
 * strictly before it is sent. An execution's task is run by a {@link Runner}: in memory, or as a container on the
 * real Docker engine, whose exit code makes the execution's conditions.
 */
final class FakeCloudRun implements AutoCloseable {

    /** Runs an execution's single task; calls {@code onExit} once with the exit code, from any thread. */
    interface Runner extends AutoCloseable {
        RunningTask start(String execution, Container container, IntConsumer onExit) throws Exception;

        @Override
        default void close() {
        }
    }

    /** A started task; {@link #stop} ends it (a graceful signal, then a forced one) and returns once it ended. */
    interface RunningTask {
        void stop();
    }

    private static final TypeRegistry TYPES = TypeRegistry.newBuilder().add(Job.getDescriptor())
            .add(Execution.getDescriptor()).build();
    private static final JsonFormat.Parser STRICT = JsonFormat.parser().usingTypeRegistry(TYPES);
    private static final Pattern JOB_ID = Pattern.compile("[a-z]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final Pattern LABEL_KEY = Pattern.compile("[a-z][a-z0-9_-]{0,62}");
    private static final Pattern LABEL_VALUE = Pattern.compile("[a-z0-9_-]{0,63}");

    /** A failure to answer once, instead of (or after) doing what was asked. */
    record Fault(String method, Pattern path, int status, boolean performAnyway) {
    }

    private final HttpServer server;
    private final Runner runner;
    private final PublicKey tokenKey;
    private final ExecutorService background = Executors.newVirtualThreadPerTaskExecutor();
    private final Object lock = new Object();
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    private final Map<String, Execution> executions = new LinkedHashMap<>();
    private final Map<String, RunningTask> running = new ConcurrentHashMap<>();
    private final Map<String, Integer> exitCodes = new ConcurrentHashMap<>();
    /** Executions being cancelled: their task's end is a cancellation, not a failure. */
    private final Set<String> cancelling = ConcurrentHashMap.newKeySet();
    private final Map<String, Supplier<Operation>> operations = new ConcurrentHashMap<>();
    private final Map<String, Supplier<Job>> reconcilers = new ConcurrentHashMap<>();
    private final List<Fault> faults = new CopyOnWriteArrayList<>();
    private final Set<String> tokens = ConcurrentHashMap.newKeySet();
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private final List<Job> createdBodies = new CopyOnWriteArrayList<>();
    private volatile int createPolls = 1;
    private volatile Condition.CommonReason notReadyReason;

    private FakeCloudRun(Runner runner, PublicKey tokenKey) throws IOException {
        this.runner = runner;
        this.tokenKey = tokenKey;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", this::handle);
        server.start();
    }

    /** @param tokenKey the public key of the service account whose signed assertions the token endpoint accepts */
    static FakeCloudRun start(Runner runner, PublicKey tokenKey) {
        try {
            return new FakeCloudRun(runner, tokenKey);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    String tokenUri() {
        return endpoint() + "/token";
    }

    // ---- scripting and inspection ----

    void failNext(String method, String pathRegex, int status, boolean performAnyway) {
        faults.add(new Fault(method, Pattern.compile(pathRegex), status, performAnyway));
    }

    /** How many operation polls a job creation takes before it is done. */
    void createTakesPolls(int polls) {
        createPolls = polls;
    }

    /** Jobs created from now on end their creation not ready, for this reason. */
    void jobsNotReady(Condition.CommonReason reason) {
        notReadyReason = reason;
    }

    List<String> requests() {
        return List.copyOf(requests);
    }

    long count(String method, String pathRegex) {
        Pattern p = Pattern.compile(pathRegex);
        return requests.stream().filter(r -> r.startsWith(method + " ") && p.matcher(r.substring(method.length() + 1)).find()).count();
    }

    List<Job> createdBodies() {
        return List.copyOf(createdBodies);
    }

    Job job(String name) {
        synchronized (lock) {
            return jobs.get(name);
        }
    }

    List<Job> jobs() {
        synchronized (lock) {
            return List.copyOf(jobs.values());
        }
    }

    List<Execution> executions() {
        synchronized (lock) {
            return List.copyOf(executions.values());
        }
    }

    /** Deletes an execution the way someone with the console would. */
    void deleteExecutionFromOutside(String name) {
        RunningTask task;
        synchronized (lock) {
            executions.remove(name);
            task = running.remove(name);
        }
        if (task != null) {
            task.stop();
        }
    }

    boolean tokenIssued() {
        return !tokens.isEmpty();
    }

    @Override
    public void close() {
        server.stop(0);
        List<RunningTask> left;
        synchronized (lock) {
            left = new ArrayList<>(running.values());
            running.clear();
        }
        left.forEach(RunningTask::stop);
        background.shutdownNow();
        ((ExecutorService) server.getExecutor()).shutdownNow();
        runner.close();
    }

    // ---- HTTP ----

    private record Reply(int status, String body) {
    }

    private static final class ApiError extends Exception {
        final int status;

        ApiError(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getRawPath();
            String query = exchange.getRequestURI().getRawQuery();
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            requests.add(method + " " + path);
            Reply reply;
            try {
                if (path.equals("/token")) {
                    reply = token(body);
                } else {
                    authorize(exchange.getRequestHeaders().getFirst("Authorization"));
                    Fault fault = takeFault(method, path);
                    if (fault != null && !fault.performAnyway()) {
                        throw new ApiError(fault.status(), "injected failure");
                    }
                    boolean ints = query != null && URLDecoder.decode(query, StandardCharsets.UTF_8).contains("enum-encoding=int");
                    reply = route(method, path, params(query), body, ints);
                    if (fault != null) {
                        throw new ApiError(fault.status(), "injected failure after the work was done");
                    }
                }
            } catch (ApiError e) {
                reply = error(e.status, e.getMessage());
            } catch (RuntimeException e) {
                reply = error(500, "fake failure: " + e);
            }
            byte[] bytes = reply.body().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
            exchange.sendResponseHeaders(reply.status(), bytes.length);
            exchange.getResponseBody().write(bytes);
        }
    }

    private Fault takeFault(String method, String path) {
        for (Fault f : faults) {
            if (f.method().equals(method) && f.path().matcher(path).find() && faults.remove(f)) {
                return f;
            }
        }
        return null;
    }

    private void authorize(String header) throws ApiError {
        if (header == null || !header.startsWith("Bearer ") || !tokens.contains(header.substring(7))) {
            throw new ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token");
        }
    }

    /** The OAuth token endpoint: a JWT bearer assertion signed with the service account's key earns a token. */
    private Reply token(String form) throws ApiError {
        Map<String, String> f = params(form);
        String assertion = f.get("assertion");
        if (!"urn:ietf:params:oauth:grant-type:jwt-bearer".equals(f.get("grant_type")) || assertion == null) {
            return new Reply(400, "{\"error\":\"unsupported_grant_type\"}");
        }
        String[] parts = assertion.split("\\.");
        try {
            Signature rsa = Signature.getInstance("SHA256withRSA");
            rsa.initVerify(tokenKey);
            rsa.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
            if (parts.length != 3 || !rsa.verify(Base64.getUrlDecoder().decode(parts[2]))) {
                return new Reply(400, "{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT Signature.\"}");
            }
        } catch (java.security.GeneralSecurityException | IllegalArgumentException e) {
            return new Reply(400, "{\"error\":\"invalid_grant\",\"error_description\":\"" + e.getClass().getSimpleName() + "\"}");
        }
        String token = "ya29.fake-" + UUID.randomUUID();
        tokens.add(token);
        return new Reply(200, "{\"access_token\":\"" + token + "\",\"expires_in\":3600,\"token_type\":\"Bearer\"}");
    }

    private Reply route(String method, String path, Map<String, String> query, String body, boolean ints) throws ApiError {
        if (!path.startsWith("/v2/projects/")) {
            throw new ApiError(404, "The requested URL " + path + " was not found on this server.");
        }
        String[] s = path.substring("/v2/".length()).split("/");
        // projects/{p}/locations/{l}/...
        if (s.length < 5 || !s[2].equals("locations")) {
            throw new ApiError(404, "The requested URL " + path + " was not found on this server.");
        }
        String parent = "projects/" + s[1] + "/locations/" + s[3];
        if (s[4].equals("operations") && s.length == 6 && method.equals("GET")) {
            Supplier<Operation> op = operations.get(parent + "/operations/" + s[5]);
            if (op == null) {
                throw new ApiError(404, "Operation " + s[5] + " not found");
            }
            return ok(op.get(), Operation.newBuilder(), ints);
        }
        if (!s[4].equals("jobs")) {
            throw new ApiError(404, "The requested URL " + path + " was not found on this server.");
        }
        if (s.length == 5) {
            return switch (method) {
                case "POST" -> ok(createJob(parent, query.get("jobId"), body), Operation.newBuilder(), ints);
                case "GET" -> ok(listJobs(parent), ListJobsResponse.newBuilder(), ints);
                default -> throw new ApiError(405, "method not allowed");
            };
        }
        String jobSegment = s[5];
        boolean run = jobSegment.endsWith(":run");
        String job = parent + "/jobs/" + (run ? jobSegment.substring(0, jobSegment.length() - 4) : jobSegment);
        if (s.length == 6) {
            return switch (method + (run ? ":run" : "")) {
                case "POST:run" -> ok(runJob(job, body), Operation.newBuilder(), ints);
                case "GET" -> ok(existingJob(job), Job.newBuilder(), ints);
                case "DELETE" -> ok(deleteJob(job), Operation.newBuilder(), ints);
                default -> throw new ApiError(405, "method not allowed");
            };
        }
        if (!s[6].equals("executions")) {
            throw new ApiError(404, "The requested URL " + path + " was not found on this server.");
        }
        if (s.length == 7 && method.equals("GET")) {
            return ok(listExecutions(job), ListExecutionsResponse.newBuilder(), ints);
        }
        String execSegment = s[7];
        boolean cancel = execSegment.endsWith(":cancel");
        String execution = job + "/executions/" + (cancel ? execSegment.substring(0, execSegment.length() - 7) : execSegment);
        if (s.length == 9 && s[8].equals("tasks") && method.equals("GET")) {
            return ok(listTasks(execution), ListTasksResponse.newBuilder(), ints);
        }
        if (s.length != 8) {
            throw new ApiError(404, "The requested URL " + path + " was not found on this server.");
        }
        return switch (method + (cancel ? ":cancel" : "")) {
            case "GET" -> ok(existingExecution(execution), Execution.newBuilder(), ints);
            case "DELETE" -> ok(deleteExecution(execution), Operation.newBuilder(), ints);
            case "POST:cancel" -> ok(cancelExecution(execution), Operation.newBuilder(), ints);
            default -> throw new ApiError(405, "method not allowed");
        };
    }

    // ---- jobs ----

    private Operation createJob(String parent, String jobId, String body) throws ApiError {
        if (jobId == null || !JOB_ID.matcher(jobId).matches()) {
            throw new ApiError(400, "Invalid job id '" + jobId + "': lower-case letters, digits and hyphens, starting with "
                    + "a letter, at most 63 characters");
        }
        Job.Builder b = Job.newBuilder();
        parseStrict(body, b);
        createdBodies.add(b.build());
        checkLabels(b.getLabelsMap(), "job labels");
        checkLabels(b.getTemplate().getLabelsMap(), "execution template labels");
        if (b.getTemplate().getTemplate().getContainersCount() == 0
                || b.getTemplate().getTemplate().getContainers(0).getImage().isEmpty()) {
            throw new ApiError(400, "spec.template.spec.containers[0].image: a container image is required");
        }
        String name = parent + "/jobs/" + jobId;
        Job created;
        synchronized (lock) {
            if (jobs.containsKey(name)) {
                throw new ApiError(409, "Resource '" + jobId + "' already exists.");
            }
            created = b.setName(name).setUid(UUID.randomUUID().toString()).setGeneration(1).setCreateTime(now())
                    .setReconciling(true)
                    .setTerminalCondition(Condition.newBuilder().setType("Ready").setState(Condition.State.CONDITION_PENDING))
                    .build();
            jobs.put(name, created);
        }
        int polls = createPolls;
        Condition.CommonReason failure = notReadyReason;
        int[] seen = {0};
        // the job reconciles as it is looked at, through its operation or directly (a creation whose answer was
        // lost still finishes, as on Google's side)
        Supplier<Job> reconcile = () -> {
            synchronized (lock) {
                Job j = jobs.get(name);
                if (j == null) {
                    return created;
                }
                if (j.getReconciling() && seen[0]++ >= polls) {
                    Condition.Builder ready = Condition.newBuilder().setType("Ready").setLastTransitionTime(now());
                    if (failure == null) {
                        ready.setState(Condition.State.CONDITION_SUCCEEDED);
                    } else {
                        ready.setState(Condition.State.CONDITION_FAILED).setReason(failure)
                                .setMessage("Image '" + j.getTemplate().getTemplate().getContainers(0).getImage() + "' not found.");
                    }
                    j = j.toBuilder().setReconciling(false).setTerminalCondition(ready).build();
                    jobs.put(name, j);
                }
                return j;
            }
        };
        reconcilers.put(name, reconcile);
        return operation(parent, Any.pack(created), () -> {
            Job j = reconcile.get();
            return j.getReconciling() ? null : j;
        });
    }

    private static void checkLabels(Map<String, String> labels, String where) throws ApiError {
        if (labels.size() > 64) {
            throw new ApiError(400, where + ": at most 64 labels");
        }
        for (Map.Entry<String, String> e : labels.entrySet()) {
            if (!LABEL_KEY.matcher(e.getKey()).matches() || !LABEL_VALUE.matcher(e.getValue()).matches()) {
                throw new ApiError(400, where + ": invalid label " + e.getKey() + "=" + e.getValue());
            }
        }
    }

    private ListJobsResponse listJobs(String parent) {
        synchronized (lock) {
            return ListJobsResponse.newBuilder().addAllJobs(jobs.values().stream()
                    .filter(j -> j.getName().startsWith(parent + "/")).toList()).build();
        }
    }

    private Job existingJob(String name) throws ApiError {
        Supplier<Job> reconcile = reconcilers.get(name);
        if (reconcile != null) {
            reconcile.get();
        }
        synchronized (lock) {
            Job j = jobs.get(name);
            if (j == null) {
                throw new ApiError(404, "Resource '" + name + "' was not found");
            }
            return j;
        }
    }

    private Operation runJob(String name, String body) throws ApiError {
        RunJobRequest.Builder request = RunJobRequest.newBuilder();
        parseStrict(body, request);
        Execution execution;
        Container container;
        synchronized (lock) {
            Job job = existingJob(name);
            if (job.getReconciling() || job.getTerminalCondition().getState() != Condition.State.CONDITION_SUCCEEDED) {
                throw new ApiError(400, "Job " + name + " is not ready");
            }
            String jobId = name.substring(name.lastIndexOf('/') + 1);
            String suffix = Long.toString(ThreadLocalRandom.current().nextLong(36L * 36 * 36 * 36 * 36), 36);
            String execName = name + "/executions/" + jobId + "-" + "0".repeat(5 - suffix.length()) + suffix;
            String project = name.split("/")[1];
            execution = Execution.newBuilder().setName(execName).setUid(UUID.randomUUID().toString())
                    .setJob(jobId).setCreateTime(now()).setLaunchStage(job.getLaunchStage())
                    .putAllLabels(job.getTemplate().getLabelsMap()).setTemplate(job.getTemplate().getTemplate())
                    .setTaskCount(1).setParallelism(1).setReconciling(true)
                    .setLogUri("https://console.cloud.google.com/logs/viewer?project=" + project
                            + "&advancedFilter=resource.type%3D%22cloud_run_job%22%0Alabels.%22run.googleapis.com/execution_name%22%3D%22"
                            + execName.substring(execName.lastIndexOf('/') + 1) + "%22")
                    .addConditions(Condition.newBuilder().setType("ResourcesAvailable").setState(Condition.State.CONDITION_PENDING)
                            .setMessage("Provisioning imported containers."))
                    .addConditions(Condition.newBuilder().setType(ExecutionPhases.COMPLETED).setState(Condition.State.CONDITION_PENDING))
                    .build();
            executions.put(execName, execution);
            jobs.put(name, job.toBuilder().setExecutionCount(job.getExecutionCount() + 1)
                    .setLatestCreatedExecution(ExecutionReference.newBuilder().setName(execName).setCreateTime(execution.getCreateTime())
                            .setCompletionStatus(ExecutionReference.CompletionStatus.EXECUTION_PENDING)).build());
            container = job.getTemplate().getTemplate().getContainers(0);
        }
        String execName = execution.getName();
        background.execute(() -> start(execName, container));
        return operation(name.substring(0, name.indexOf("/jobs/")), Any.pack(execution), () -> {
            synchronized (lock) {
                Execution e = executions.get(execName);
                return e != null && e.hasCompletionTime() ? e : null;
            }
        });
    }

    private void start(String execName, Container container) {
        try {
            RunningTask task = runner.start(execName, container, code -> finish(execName, code, false));
            boolean stillWanted;
            synchronized (lock) {
                Execution e = executions.get(execName);
                stillWanted = e != null && !e.hasCompletionTime();
                if (stillWanted) {
                    running.put(execName, task);
                    executions.put(execName, e.toBuilder().setStartTime(now()).setRunningCount(1).setConditions(0,
                            Condition.newBuilder().setType("ResourcesAvailable").setState(Condition.State.CONDITION_SUCCEEDED)
                                    .setMessage("Provisioned imported containers.")).build());
                    setLatest(execName, ExecutionReference.CompletionStatus.EXECUTION_RUNNING, null);
                }
            }
            if (!stillWanted) {
                task.stop();
            }
        } catch (Exception e) {
            finish(execName, 127, false);
        }
    }

    private void finish(String execName, int code, boolean cancelledHere) {
        boolean cancelled = cancelledHere || cancelling.remove(execName);
        synchronized (lock) {
            running.remove(execName);
            Execution e = executions.get(execName);
            if (e == null || e.hasCompletionTime()) {
                return;
            }
            exitCodes.put(execName, code);
            String task = execName.substring(execName.lastIndexOf('/') + 1) + "-task0";
            Condition.Builder completed = Condition.newBuilder().setType(ExecutionPhases.COMPLETED).setLastTransitionTime(now());
            Execution.Builder b = e.toBuilder().setCompletionTime(now()).setRunningCount(0).setReconciling(false);
            ExecutionReference.CompletionStatus status;
            if (cancelled) {
                b.setCancelledCount(1);
                completed.setState(Condition.State.CONDITION_FAILED).setExecutionReason(Condition.ExecutionReason.CANCELLED)
                        .setMessage("The execution was cancelled.");
                status = ExecutionReference.CompletionStatus.EXECUTION_CANCELLED;
            } else if (code == 0) {
                b.setSucceededCount(1);
                completed.setState(Condition.State.CONDITION_SUCCEEDED).setMessage("Execution completed successfully.");
                status = ExecutionReference.CompletionStatus.EXECUTION_SUCCEEDED;
            } else {
                b.setFailedCount(1);
                completed.setState(Condition.State.CONDITION_FAILED).setExecutionReason(Condition.ExecutionReason.NON_ZERO_EXIT_CODE)
                        .setMessage("Task " + task + " failed with message: The container exited with an error.");
                status = ExecutionReference.CompletionStatus.EXECUTION_FAILED;
            }
            b.setConditions(1, completed);
            executions.put(execName, b.build());
            setLatest(execName, status, b.getCompletionTime());
        }
    }

    private void setLatest(String execName, ExecutionReference.CompletionStatus status, Timestamp completion) {
        String jobName = execName.substring(0, execName.indexOf("/executions/"));
        Job job = jobs.get(jobName);
        if (job != null && job.getLatestCreatedExecution().getName().equals(execName)) {
            ExecutionReference.Builder ref = job.getLatestCreatedExecution().toBuilder().setCompletionStatus(status);
            if (completion != null) {
                ref.setCompletionTime(completion);
            }
            jobs.put(jobName, job.toBuilder().setLatestCreatedExecution(ref).build());
        }
    }

    private Operation deleteJob(String name) throws ApiError {
        Job job;
        List<RunningTask> stopping = new ArrayList<>();
        synchronized (lock) {
            job = existingJob(name);
            jobs.remove(name);
            executions.keySet().removeIf(e -> {
                if (e.startsWith(name + "/executions/")) {
                    RunningTask t = running.remove(e);
                    if (t != null) {
                        stopping.add(t);
                    }
                    return true;
                }
                return false;
            });
        }
        return stopThen(name.substring(0, name.indexOf("/jobs/")), stopping, job.toBuilder().setDeleteTime(now()).build());
    }

    // ---- executions ----

    private ListExecutionsResponse listExecutions(String job) throws ApiError {
        synchronized (lock) {
            existingJob(job);
            return ListExecutionsResponse.newBuilder().addAllExecutions(executions.values().stream()
                    .filter(e -> e.getName().startsWith(job + "/executions/")).toList()).build();
        }
    }

    private Execution existingExecution(String name) throws ApiError {
        synchronized (lock) {
            Execution e = executions.get(name);
            if (e == null) {
                throw new ApiError(404, "Resource '" + name + "' was not found");
            }
            return e;
        }
    }

    private ListTasksResponse listTasks(String execution) throws ApiError {
        Execution e = existingExecution(execution);
        Task.Builder task = Task.newBuilder().setName(execution + "/tasks/" + execution.substring(execution.lastIndexOf('/') + 1) + "-task0")
                .setJob(e.getJob()).setExecution(execution.substring(execution.lastIndexOf('/') + 1)).setIndex(0);
        Integer code = exitCodes.get(execution);
        if (code != null) {
            task.setLastAttemptResult(TaskAttemptResult.newBuilder().setExitCode(code)
                    .setStatus(com.google.rpc.Status.newBuilder().setCode(code == 0 ? 0 : 2)));
        }
        return ListTasksResponse.newBuilder().addTasks(task).build();
    }

    private Operation deleteExecution(String name) throws ApiError {
        Execution e;
        RunningTask task;
        synchronized (lock) {
            e = existingExecution(name);
            executions.remove(name);
            task = running.remove(name);
        }
        return stopThen(name.substring(0, name.indexOf("/jobs/")), task == null ? List.of() : List.of(task),
                e.toBuilder().setDeleteTime(now()).build());
    }

    private Operation cancelExecution(String name) throws ApiError {
        RunningTask task;
        synchronized (lock) {
            Execution e = existingExecution(name);
            if (e.hasCompletionTime()) {
                throw new ApiError(400, "Execution " + name + " has already completed");
            }
            task = running.remove(name);
            cancelling.add(name);
        }
        background.execute(() -> {
            if (task != null) {
                task.stop();
            }
            finish(name, 143, true);
        });
        return operation(name.substring(0, name.indexOf("/jobs/")), Any.pack(existingExecution(name)), () -> {
            synchronized (lock) {
                Execution e = executions.get(name);
                return e == null || e.hasCompletionTime() ? (e == null ? Execution.getDefaultInstance() : e) : null;
            }
        });
    }

    /** An operation that is done once the tasks have stopped. */
    private Operation stopThen(String parent, List<RunningTask> tasks, Message response) {
        java.util.concurrent.CompletableFuture<Void> stopped = java.util.concurrent.CompletableFuture.runAsync(
                () -> tasks.forEach(RunningTask::stop), background);
        return operation(parent, Any.pack(response), () -> stopped.isDone() ? response : null);
    }

    // ---- operations and wire format ----

    /** A new operation; {@code result} gives the response once the work is done, null before. */
    private Operation operation(String parent, Any metadata, Supplier<Message> result) {
        String name = parent + "/operations/" + UUID.randomUUID();
        Operation pending = Operation.newBuilder().setName(name).setMetadata(metadata).setDone(false).build();
        Message[] done = {null};
        operations.put(name, () -> {
            synchronized (done) {
                if (done[0] == null) {
                    done[0] = result.get();
                }
                return done[0] == null ? pending : pending.toBuilder().setDone(true).setResponse(Any.pack(done[0])).build();
            }
        });
        return pending;
    }

    private static void parseStrict(String body, Message.Builder into) throws ApiError {
        try {
            STRICT.merge(body.isBlank() ? "{}" : body, into);
        } catch (InvalidProtocolBufferException e) {
            throw new ApiError(400, "Invalid JSON payload received. " + e.getMessage());
        }
    }

    /** Prints the message and parses it back strictly into a fresh builder of its type before sending it. */
    private static Reply ok(Message message, Message.Builder check, boolean enumsAsInts) {
        try {
            JsonFormat.Printer printer = JsonFormat.printer().usingTypeRegistry(TYPES);
            String json = (enumsAsInts ? printer.printingEnumsAsInts() : printer).print(message);
            STRICT.merge(json, check);
            return new Reply(200, json);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("the fake would send a body its own client cannot read", e);
        }
    }

    private static Reply error(int status, String message) {
        String code = switch (status) {
            case 400 -> "INVALID_ARGUMENT";
            case 401 -> "UNAUTHENTICATED";
            case 403 -> "PERMISSION_DENIED";
            case 404 -> "NOT_FOUND";
            case 409 -> "ALREADY_EXISTS";
            case 429 -> "RESOURCE_EXHAUSTED";
            case 503 -> "UNAVAILABLE";
            default -> "INTERNAL";
        };
        String quoted = com.fasterxml.jackson.databind.node.TextNode.valueOf(message).toString();
        return new Reply(status, "{\"error\":{\"code\":" + status + ",\"message\":" + quoted + ",\"status\":\"" + code + "\"}}");
    }

    private static Map<String, String> params(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            out.put(k, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return out;
    }

    private static Timestamp now() {
        Instant i = Instant.now();
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }

    /** The plain environment of a container, as a task would see it (secret references are not resolved here). */
    static Map<String, String> environment(Container container) {
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvVar v : container.getEnvList()) {
            if (v.hasValue() || !v.hasValueSource()) {
                env.put(v.getName(), v.getValue());
            }
        }
        return env;
    }
}
