package io.pworker.docker;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.JsonNode;
import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.CreateContainerCmd;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.ConflictException;
import com.github.dockerjava.api.exception.DockerClientException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.exception.NotModifiedException;
import com.github.dockerjava.api.model.AuthConfig;
import com.github.dockerjava.api.model.Bind;
import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.HostConfig;
import com.github.dockerjava.api.model.PullResponseItem;
import com.github.dockerjava.api.model.StreamType;
import com.github.dockerjava.api.model.WaitContainerCondition;
import com.github.dockerjava.api.model.WaitResponse;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.RunHandle;

import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.TimeUnit;

/**
 * Runs flow runs as containers. The exit code comes from the engine's wait call (Prefect's worker reads a
 * possibly stale snapshot instead and misses non-zero exits); a container that vanished while watched is
 * reported as such.
 */
final class DockerLauncher implements InfrastructureLauncher {

    static final String DEFAULT_PYTHON = "3.12";
    static final String FALLBACK_IMAGE = "prefecthq/prefect:3-python" + DEFAULT_PYTHON;
    private static final Duration PULL_TIMEOUT = Duration.ofMinutes(10);
    private static final Duration ATTACH_TIMEOUT = Duration.ofSeconds(30);

    private final PluginContext context;
    private final DockerClient docker;
    /** How Prefect's docker-py names this engine in infrastructure_pid ({@code http+docker://localhost} for a socket). */
    private final String baseUrl;
    private final String defaultImage;
    private final Map<String, Watch> watches = new ConcurrentHashMap<>();
    /** Containers this launcher stopped, so their 137 is not blamed on someone else. */
    private final Set<String> killedHere = ConcurrentHashMap.newKeySet();

    /** One engine wait per container, shared by the repeated {@link #await} calls. */
    private record Watch(ExitWaiter waiter, OutputPrinter logs, boolean autoRemove,
            String name) {
    }

    private DockerLauncher(PluginContext context, DockerClient docker, String baseUrl) {
        this.context = context;
        this.docker = docker;
        this.baseUrl = baseUrl;
        this.defaultImage = context.environment().get("PWORKER_DOCKER_DEFAULT_IMAGE");
    }

    /**
     * Prefect runs flows in the Prefect image of the worker's own version; ours is the Prefect version pworker
     * speaks, which the core writes into the run's {@code prefect.io/version} label.
     */
    private String defaultImage(LaunchRequest request) {
        if (defaultImage != null && !defaultImage.isBlank()) {
            return defaultImage;
        }
        String version = request.configuration().path("labels").path("prefect.io/version").asText("");
        return version.matches("\\d+\\.\\d+\\.\\d+") ? "prefecthq/prefect:" + version + "-python" + DEFAULT_PYTHON : FALLBACK_IMAGE;
    }

    static DockerLauncher connect(PluginContext context) throws InfrastructureException {
        Map<String, String> env = context.environment();
        DefaultDockerClientConfig.Builder builder = DefaultDockerClientConfig.createDefaultConfigBuilder();
        String host = env.getOrDefault("DOCKER_HOST", "unix:///var/run/docker.sock");
        builder.withDockerHost(host);
        if (env.containsKey("DOCKER_TLS_VERIFY")) {
            builder.withDockerTlsVerify(!env.get("DOCKER_TLS_VERIFY").isEmpty() && !env.get("DOCKER_TLS_VERIFY").equals("0"));
        }
        if (env.containsKey("DOCKER_CERT_PATH")) {
            builder.withDockerCertPath(env.get("DOCKER_CERT_PATH"));
        }
        if (env.containsKey("DOCKER_CONFIG")) {
            builder.withDockerConfig(env.get("DOCKER_CONFIG"));
        }
        DockerClient client;
        DockerClientConfig config;
        try {
            config = builder.build();
            ApacheDockerHttpClient http = new ApacheDockerHttpClient.Builder()
                    .dockerHost(config.getDockerHost())
                    .sslConfig(config.getSSLConfig())
                    .maxConnections(200)
                    .connectionTimeout(Duration.ofSeconds(10))
                    .build();
            client = DockerClientImpl.getInstance(config, http);
            client.pingCmd().exec();
        } catch (RuntimeException e) {
            throw new InfrastructureException("cannot reach the Docker engine at " + host + " (" + rootMessage(e)
                    + "); set DOCKER_HOST or start the engine", e);
        }
        return new DockerLauncher(context, client, baseUrl(config.getDockerHost(), config.getSSLConfig() != null));
    }

    static String baseUrl(URI host, boolean tls) {
        if ("unix".equals(host.getScheme()) || "npipe".equals(host.getScheme())) {
            return "http+docker://localhost";
        }
        return (tls ? "https" : "http") + "://" + host.getHost() + (host.getPort() > 0 ? ":" + host.getPort() : "");
    }

    @Override
    public RunHandle launch(LaunchRequest request) throws LaunchException {
        DockerJobConfiguration config = DockerJobConfiguration.from(request.configuration(), defaultImage(request));
        pull(config, request);
        Map<String, String> env = new LinkedHashMap<>(config.env());
        String mode = config.networkMode();
        List<String> extraHosts = new ArrayList<>();
        String apiUrl = env.get("PREFECT_API_URL");
        if (apiUrl != null && pointsAtThisHost(apiUrl)) {
            if (mode == null && config.networks().isEmpty() && isLinux()) {
                // the flow reaches a local API through the host's own network, as Prefect's worker arranges
                mode = "host";
            } else if (!"host".equals(mode)) {
                env.put("PREFECT_API_URL", apiUrl.replaceFirst("//(localhost|127\\.0\\.0\\.1)", "//host.docker.internal"));
                if (isLinux() && !"none".equals(mode)) {
                    extraHosts.add("host.docker.internal:host-gateway");
                }
            }
        }
        Map<String, String> labels = new LinkedHashMap<>();
        config.labels().forEach((k, v) -> labels.put(dockerLabel(k), v));

        HostConfig hostConfig = HostConfig.newHostConfig()
                .withAutoRemove(config.autoRemove())
                .withPrivileged(config.privileged());
        if (!config.volumes().isEmpty()) {
            List<Bind> binds = new ArrayList<>();
            for (String v : config.volumes()) {
                try {
                    binds.add(Bind.parse(v));
                } catch (RuntimeException e) {
                    throw new LaunchException("invalid job configuration 'volumes': '" + v + "' is not host:container[:mode]");
                }
            }
            hostConfig.withBinds(binds);
        }
        if (mode != null) {
            hostConfig.withNetworkMode(mode);
        } else if (!config.networks().isEmpty()) {
            hostConfig.withNetworkMode(config.networks().getFirst());
        }
        if (config.memLimit() != null) {
            hostConfig.withMemory(config.memLimit());
        }
        if (config.memswapLimit() != null) {
            hostConfig.withMemorySwap(config.memswapLimit());
        }
        CreateContainerCmd create = docker.createContainerCmd(config.image())
                .withEnv(env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList())
                .withLabels(labels)
                .withCmd(config.command())
                .withHostConfig(hostConfig);
        applyKwargs(create, hostConfig, config.containerCreateKwargs(), extraHosts, request);
        if (!extraHosts.isEmpty()) {
            hostConfig.withExtraHosts(extraHosts.toArray(String[]::new));
        }
        String baseName = containerName(config.name() != null ? config.name() : request.run().name());
        String id = null;
        String name = baseName;
        for (int attempt = 0; id == null; attempt++) {
            // a name in use gets -1, -2, … as Prefect's worker does; an empty one lets the engine choose
            name = baseName.isEmpty() ? null : attempt == 0 ? baseName : baseName + "-" + attempt;
            try {
                if (name != null) {
                    create.withName(name);
                }
                id = create.exec().getId();
            } catch (ConflictException e) {
                if (name == null || attempt >= 50) {
                    throw new LaunchException("cannot create a container named '" + name + "': " + rootMessage(e));
                }
            } catch (RuntimeException e) {
                throw new LaunchException("the Docker engine refused to create the container for image '"
                        + config.image() + "': " + rootMessage(e), e);
            }
        }
        if (name == null) {
            name = id.substring(0, 12);
        }
        // The wait and the output stream are opened before the start, as `docker run` does: a container that
        // ends at once (and is auto-removed) is neither missed nor mistaken for one removed from outside, and
        // none of its output is lost.
        ExitWaiter waiter = null;
        OutputPrinter output = null;
        try {
            for (String network : config.networks().subList(Math.min(1, config.networks().size()), config.networks().size())) {
                docker.connectToNetworkCmd().withNetworkId(network).withContainerId(id).exec();
            }
            waiter = docker.waitContainerCmd(id).withCondition(WaitContainerCondition.NEXT_EXIT).exec(new ExitWaiter());
            if (config.streamOutput()) {
                output = docker.attachContainerCmd(id).withStdOut(true).withStdErr(true).withFollowStream(true)
                        .withLogs(false).exec(new OutputPrinter(name, context.console()));
                output.awaitAttached(id);
            }
            waiter.awaitAttached(id);
            docker.startContainerCmd(id).exec();
        } catch (RuntimeException | InfrastructureException e) {
            closeQuietly(waiter);
            closeQuietly(output);
            removeQuietly(id);
            throw new LaunchException("the Docker engine could not start container '" + name + "': " + rootMessage(e), e);
        }
        watches.put(id, new Watch(waiter, output, config.autoRemove(), name));
        request.log().info("Started container '" + name + "' (" + id.substring(0, 12) + ") from image '" + config.image() + "'");
        return new RunHandle(baseUrl + ":" + id, Map.of("container_id", id, "auto_remove", String.valueOf(config.autoRemove()),
                "container_name", name));
    }

    private void pull(DockerJobConfiguration config, LaunchRequest request) throws LaunchException {
        String policy = config.effectivePullPolicy();
        if (policy.equals("Never")) {
            return;
        }
        if (policy.equals("IfNotPresent") && imageExists(config.image())) {
            return;
        }
        ImageName image = ImageName.parse(config.image());
        try {
            var pull = docker.pullImageCmd(image.repository()).withTag(image.reference());
            DockerJobConfiguration.RegistryCredentials creds = config.registryCredentials();
            if (creds != null) {
                AuthConfig auth = new AuthConfig().withUsername(creds.username()).withPassword(creds.password());
                if (creds.registryUrl() != null) {
                    auth.withRegistryAddress(creds.registryUrl());
                }
                pull.withAuthConfig(auth);
            }
            request.log().info("Pulling image '" + config.image() + "'");
            PullWaiter waiter = pull.exec(new PullWaiter());
            try {
                waiter.done.get(PULL_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } finally {
                closeQuietly(waiter);
            }
        } catch (TimeoutException e) {
            throw new LaunchException("pulling image '" + config.image() + "' took longer than " + PULL_TIMEOUT.toMinutes()
                    + " minutes");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LaunchException("interrupted while pulling image '" + config.image() + "'");
        } catch (ExecutionException | RuntimeException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            if (policy.equals("IfPossible") && imageExists(config.image())) {
                request.log().warn("Could not pull image '" + config.image() + "' (" + rootMessage(cause)
                        + "); using the local copy");
                return;
            }
            throw new LaunchException("cannot pull image '" + config.image() + "': " + rootMessage(cause), cause);
        }
    }

    private boolean imageExists(String image) {
        try {
            docker.inspectImageCmd(image).exec();
            return true;
        } catch (NotFoundException e) {
            return false;
        }
    }

    /** The {@code container_create_kwargs} we can express with docker-java; others are reported, not dropped silently. */
    private static void applyKwargs(CreateContainerCmd create, HostConfig host, Map<String, JsonNode> kwargs,
            List<String> extraHosts, LaunchRequest request) {
        for (Map.Entry<String, JsonNode> e : kwargs.entrySet()) {
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "user" -> create.withUser(v.asText());
                case "working_dir" -> create.withWorkingDir(v.asText());
                case "hostname" -> create.withHostName(v.asText());
                case "entrypoint" -> create.withEntrypoint(v.isArray() ? strings(v) : io.pworker.spi.ShellWords.split(v.asText()));
                case "extra_hosts" -> {
                    if (v.isObject()) {
                        v.properties().forEach(h -> extraHosts.add(h.getKey() + ":" + h.getValue().asText()));
                    } else {
                        extraHosts.addAll(strings(v));
                    }
                }
                case "cpu_shares" -> host.withCpuShares(v.asInt());
                case "nano_cpus" -> host.withNanoCPUs(v.asLong());
                case "shm_size" -> host.withShmSize(v.asLong());
                case "image", "command", "env", "labels", "name", "volumes", "network_mode", "networks", "mem_limit",
                        "memswap_limit", "privileged", "auto_remove" -> request.log().warn("container_create_kwargs key '"
                        + e.getKey() + "' is ignored: set the job variable of the same name instead");
                default -> request.log().warn("container_create_kwargs key '" + e.getKey() + "' is not supported by pworker "
                        + "and is ignored");
            }
        }
    }

    private static List<String> strings(JsonNode v) {
        List<String> out = new ArrayList<>();
        v.forEach(e -> out.add(e.asText()));
        return out;
    }

    private ExitWaiter startWait(String id) {
        return docker.waitContainerCmd(id).exec(new ExitWaiter());
    }

    @Override
    public io.pworker.spi.Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) {
        // transitional: one virtual thread per watched run, polling the blocking wait
        Thread t = Thread.ofVirtual().name("pworker-watch-" + handle.infrastructurePid()).start(() -> {
            int failures = 0;
            sink.report(new Phase.Running());
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    Optional<ExitStatus> s = await(handle, Duration.ofSeconds(2));
                    if (s.isPresent()) {
                        sink.report(s.get().code() == -1 && s.get().reason() != null ? new Phase.Gone(s.get().reason())
                                : new Phase.Exited(s.get()));
                        return;
                    }
                    failures = 0;
                } catch (InterruptedException e) {
                    return;
                } catch (InfrastructureException | RuntimeException e) {
                    if (++failures >= 5) {
                        sink.report(new Phase.Gone("The worker lost track of the flow run's infrastructure: " + e.getMessage()));
                        return;
                    }
                    try {
                        Thread.sleep(Duration.ofSeconds(1L << Math.min(failures, 4)));
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
            }
        });
        return t::interrupt;
    }

    @Override
    public Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException, InterruptedException {
        Optional<ExitStatus> s = await(handle, Duration.ZERO);
        if (s.isEmpty()) {
            return new Phase.Running();
        }
        return s.get().code() == -1 && s.get().reason() != null ? new Phase.Gone(s.get().reason()) : new Phase.Exited(s.get());
    }

    Optional<ExitStatus> await(RunHandle handle, Duration timeout) throws InfrastructureException, InterruptedException {
        String id = containerId(handle);
        Watch watch = watches.computeIfAbsent(id, k -> new Watch(startWait(k), null,
                Boolean.parseBoolean(handle.state().getOrDefault("auto_remove", "false")),
                handle.state().getOrDefault("container_name", k.substring(0, Math.min(12, k.length())))));
        int code;
        try {
            code = watch.waiter().result.get(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException e) {
            watches.remove(id);
            closeQuietly(watch.waiter());
            boolean gone;
            try {
                gone = e.getCause() instanceof NotFoundException || !containerExists(id);
            } catch (InfrastructureException unreachable) {
                gone = false;
            }
            if (gone) {
                return Optional.of(new ExitStatus(-1, "The container " + watch.name() + " disappeared: it was removed "
                        + "outside the worker before it finished."));
            }
            throw new InfrastructureException("lost the Docker engine while watching container " + watch.name() + ": "
                    + rootMessage(e.getCause()), e.getCause());
        }
        if (watch.logs() != null) {
            try {
                watch.logs().awaitCompletion(2, TimeUnit.SECONDS);
            } catch (RuntimeException ignored) {
                // the log stream is best effort
            }
        }
        return Optional.of(explain(id, watch, code));
    }

    /** What the engine knows about how the container ended, in words, when it was not a plain exit. */
    private ExitStatus explain(String id, Watch watch, int code) throws InfrastructureException {
        if (watch.autoRemove()) {
            // the engine removes it on exit; nothing left to ask
            return ExitStatus.of(code);
        }
        InspectContainerResponse.ContainerState state;
        try {
            state = docker.inspectContainerCmd(id).exec().getState();
        } catch (NotFoundException e) {
            state = null;
        } catch (RuntimeException e) {
            throw new InfrastructureException("cannot inspect container " + watch.name() + ": " + rootMessage(e), e);
        }
        if (state == null || "removing".equals(state.getStatus()) || Boolean.TRUE.equals(state.getDead())) {
            return new ExitStatus(code == 0 ? -1 : code, "The container " + watch.name()
                    + " disappeared: it was removed outside the worker while the flow run was running.");
        }
        if (Boolean.TRUE.equals(state.getOOMKilled())) {
            return new ExitStatus(code == 0 ? -1 : code, "The container " + watch.name()
                    + " was killed by the kernel for running out of memory; consider raising mem_limit.");
        }
        if ((code == 137 || code == 143) && !killedHere.contains(id)) {
            return new ExitStatus(code, "The container " + watch.name() + " was stopped or killed outside the worker ("
                    + (code == 137 ? "SIGKILL" : "SIGTERM") + ").");
        }
        return ExitStatus.of(code);
    }

    /** Opened before the container starts; {@link #awaitAttached} blocks until the engine has taken the request. */
    abstract static class EarlyCallback<T> extends ResultCallback.Adapter<T> {
        private final CompletableFuture<Void> attached = new CompletableFuture<>();

        @Override
        public void onStart(java.io.Closeable stream) {
            super.onStart(stream);
            attached.complete(null);
        }

        void failAttach(Throwable error) {
            attached.completeExceptionally(error);
        }

        void awaitAttached(String id) throws InfrastructureException {
            try {
                attached.get(ATTACH_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                throw new InfrastructureException("cannot follow container " + id + ": " + rootMessage(e.getCause()), e.getCause());
            } catch (TimeoutException e) {
                throw new InfrastructureException("the engine did not answer within " + ATTACH_TIMEOUT.toSeconds()
                        + " s when asked to follow container " + id);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InfrastructureException("interrupted while following container " + id);
            }
        }
    }

    /**
     * Copies a container's stdout and stderr to the console, whole lines only, each prefixed with the container's
     * name. The two streams arrive as separate frames in any order, so each keeps its own unfinished line.
     */
    static final class OutputPrinter extends EarlyCallback<Frame> {
        private final String prefix;
        private final PrintStream console;
        private final Map<StreamType, StringBuilder> partial = new java.util.EnumMap<>(StreamType.class);

        OutputPrinter(String name, PrintStream console) {
            this.prefix = "[" + name + "] ";
            this.console = console;
        }

        @Override
        public void onNext(Frame frame) {
            StringBuilder line = partial.computeIfAbsent(frame.getStreamType(), k -> new StringBuilder());
            line.append(new String(frame.getPayload(), StandardCharsets.UTF_8));
            int nl;
            while ((nl = line.indexOf("\n")) >= 0) {
                console.println(prefix + line.substring(0, nl));
                line.delete(0, nl + 1);
            }
        }

        @Override
        public void onComplete() {
            flush();
            super.onComplete();
        }

        @Override
        public void onError(Throwable error) {
            // the engine may end the stream without its closing chunk; keep what arrived
            flush();
            failAttach(error);
            closeQuietly(this);
        }

        private void flush() {
            partial.values().forEach(line -> {
                if (!line.isEmpty()) {
                    console.println(prefix + line);
                    line.setLength(0);
                }
            });
        }
    }

    /** A pull as a future: the engine reports failures as error items in the progress stream, or as an HTTP error. */
    static final class PullWaiter extends ResultCallback.Adapter<PullResponseItem> {
        final CompletableFuture<Void> done = new CompletableFuture<>();
        private volatile String error;

        @Override
        public void onNext(PullResponseItem item) {
            if (item.isErrorIndicated()) {
                error = item.getErrorDetail() != null && item.getErrorDetail().getMessage() != null
                        ? item.getErrorDetail().getMessage() : item.getError();
            }
        }

        @Override
        public void onError(Throwable failure) {
            done.completeExceptionally(failure);
            closeQuietly(this);
        }

        @Override
        public void onComplete() {
            if (error != null) {
                done.completeExceptionally(new DockerClientException(error));
            } else {
                done.complete(null);
            }
            super.onComplete();
        }
    }

    /**
     * The engine's wait call as a future. docker-java's own callback closes the call when a timed await runs
     * out, so it cannot be awaited repeatedly.
     */
    static final class ExitWaiter extends EarlyCallback<WaitResponse> {
        final CompletableFuture<Integer> result = new CompletableFuture<>();

        @Override
        public void onNext(WaitResponse response) {
            if (response.getStatusCode() != null) {
                result.complete(response.getStatusCode());
            }
        }

        @Override
        public void onError(Throwable error) {
            // reported by await(); docker-java's default would log it as an error of its own
            result.completeExceptionally(error);
            failAttach(error);
            closeQuietly(this);
        }

        @Override
        public void onComplete() {
            result.completeExceptionally(new DockerClientException("the engine ended the wait call without an exit code"));
            super.onComplete();
        }
    }

    private boolean containerExists(String id) throws InfrastructureException {
        try {
            docker.inspectContainerCmd(id).exec();
            return true;
        } catch (NotFoundException e) {
            return false;
        } catch (RuntimeException e) {
            throw new InfrastructureException("cannot inspect container " + id + ": " + rootMessage(e), e);
        }
    }

    @Override
    public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace) throws InfrastructureException {
        String pid = handle.infrastructurePid();
        int split = pid.lastIndexOf(':');
        if (split > 0 && !pid.substring(0, split).equals(baseUrl)) {
            return KillOutcome.NOT_AVAILABLE;
        }
        String id = containerId(handle);
        killedHere.add(id);
        try {
            docker.stopContainerCmd(id).withTimeout((int) Math.max(0, grace.toSeconds())).exec();
        } catch (NotFoundException e) {
            return KillOutcome.NOT_FOUND;
        } catch (NotModifiedException e) {
            // already stopped
        } catch (RuntimeException e) {
            throw new InfrastructureException("cannot stop container " + id + ": " + rootMessage(e), e);
        }
        if (Boolean.parseBoolean(handle.state().getOrDefault("auto_remove", "false"))) {
            removeQuietly(id);
        }
        return KillOutcome.KILLED;
    }

    @Override
    public void release(RunHandle handle, ObjectNode configuration) {
        killedHere.remove(containerId(handle));
        Watch watch = watches.remove(containerId(handle));
        if (watch != null) {
            closeQuietly(watch.waiter());
            closeQuietly(watch.logs());
        }
    }

    @Override
    public void close() {
        watches.values().forEach(w -> {
            closeQuietly(w.waiter());
            closeQuietly(w.logs());
        });
        closeQuietly(docker);
    }

    private void removeQuietly(String id) {
        try {
            docker.removeContainerCmd(id).withForce(true).exec();
        } catch (RuntimeException ignored) {
            // gone already
        }
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing anyway
            }
        }
    }

    private static String containerId(RunHandle handle) {
        String id = handle.state().get("container_id");
        if (id != null) {
            return id;
        }
        String pid = handle.infrastructurePid();
        return pid.substring(pid.lastIndexOf(':') + 1);
    }

    /** {@code prefect.io/flow-run-id} becomes {@code io.prefect.flow-run-id}: Docker's reverse-domain style. */
    static String dockerLabel(String key) {
        int slash = key.indexOf('/');
        if (slash < 0) {
            return key;
        }
        List<String> domain = new ArrayList<>(List.of(key.substring(0, slash).split("\\.")));
        java.util.Collections.reverse(domain);
        return String.join(".", domain) + "." + key.substring(slash + 1);
    }

    /** Docker names allow {@code [a-zA-Z0-9_.-]}; other runs of characters become one dash. */
    static String containerName(String name) {
        if (name == null) {
            return "";
        }
        String slug = name.replaceAll("[^a-zA-Z0-9_.-]+", "-").replaceAll("^[_.-]+", "");
        return slug.length() > 250 ? slug.substring(0, 250) : slug;
    }

    private static boolean pointsAtThisHost(String url) {
        try {
            String host = URI.create(url).getHost();
            return "localhost".equals(host) || "127.0.0.1".equals(host);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static boolean isLinux() {
        return System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux");
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        String best = String.valueOf(e.getMessage());
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
            if (t.getMessage() != null) {
                best = t.getMessage();
            }
        }
        if (e.getMessage() != null && e.getMessage().length() > best.length()) {
            best = e.getMessage();
        }
        return best.strip().replace('\n', ' ');
    }

}
