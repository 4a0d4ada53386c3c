package io.pworker.docker;

import static io.pworker.docker.DockerConnection.closeQuietly;
import static io.pworker.docker.DockerConnection.rootMessage;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.exception.ConflictException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.exception.NotModifiedException;
import com.github.dockerjava.api.model.Container;
import io.pworker.docker.DockerConnection.ContainerRef;
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
import io.pworker.spi.RunLog;
import io.pworker.spi.Watch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs flow runs as containers on one Docker engine. Each part of the job has its own class: the engine
 * connection ({@link DockerConnection}), the image ({@link ImagePull}), the create call ({@link ContainerSpec}),
 * reading a container's state ({@link ContainerPhases}), watching ({@link ContainerWatcher}) and streamed output
 * ({@link OutputPrinter}); this class puts them in order and owns what ties a run to its container.
 *
 * <p>Every container carries its flow-run id as a label. A launch looks for it first and adopts what it finds,
 * so a retried launch never makes a second container; everything after the launch works from the handle alone,
 * so a restarted worker finds its containers again.
 */
final class DockerLauncher implements InfrastructureLauncher {

    static final String DEFAULT_PYTHON = "3.12";
    static final String FALLBACK_IMAGE = "prefecthq/prefect:3-python" + DEFAULT_PYTHON;
    /** How long watches wait for an engine that went away before their runs are given up as Gone. */
    static final Duration ENGINE_PATIENCE = Duration.ofSeconds(30);

    private static final Logger log = LoggerFactory.getLogger(DockerLauncher.class);

    private final PluginContext context;
    private final DockerConnection engine;
    private final ImagePull images;
    private final ContainerPhases phases = new ContainerPhases();
    private final ContainerWatcher watcher;
    /** The output streams of containers this launcher started, by container id, until the run is released. */
    private final Map<String, OutputPrinter> outputs = new ConcurrentHashMap<>();
    private final String defaultImage;

    private DockerLauncher(PluginContext context, DockerConnection engine, Duration enginePatience) {
        this.context = context;
        this.engine = engine;
        this.images = new ImagePull(engine);
        this.watcher = ContainerWatcher.start(engine, phases, context.clock(), enginePatience);
        this.defaultImage = context.environment().get("PWORKER_DOCKER_DEFAULT_IMAGE");
    }

    static DockerLauncher connect(PluginContext context) throws InfrastructureException {
        return connect(context, ENGINE_PATIENCE);
    }

    static DockerLauncher connect(PluginContext context, Duration enginePatience) throws InfrastructureException {
        return new DockerLauncher(context, DockerConnection.open(context.environment()), enginePatience);
    }

    // ---- launch ----

    @Override
    public RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException {
        DockerJobConfiguration config = DockerJobConfiguration.from(request.configuration(), defaultImage(defaultImage, request));
        ContainerSpec spec = new ContainerSpec(config, request.run(), request.log());
        String runId = request.run().id();
        Optional<Container> earlier = containerOf(runId);
        if (earlier.isPresent()) {
            return adopt(earlier.get(), spec, request.log());
        }
        images.ensure(config, request.log());
        ContainerRef container = create(spec, runId);
        try {
            start(container, spec, Set.of());
        } catch (LaunchException | InterruptedException e) {
            removeQuietly(container.id());
            throw e;
        }
        request.log().info("Started container '" + container.name() + "' (" + ContainerRef.shortId(container.id())
                + ") from image '" + spec.image() + "'");
        return handle(container, spec.autoRemove());
    }

    /**
     * Prefect runs flows in the Prefect image of the worker's own version; ours is the Prefect version pworker
     * speaks, which the core writes into the run's {@code prefect.io/version} label.
     *
     * @param configured {@code PWORKER_DOCKER_DEFAULT_IMAGE}, or null
     */
    static String defaultImage(String configured, LaunchRequest request) {
        if (configured != null && !configured.isBlank()) {
            return configured;
        }
        String version = request.configuration().path("labels").path("prefect.io/version").asText("");
        return version.matches("\\d+\\.\\d+\\.\\d+") ? "prefecthq/prefect:" + version + "-python" + DEFAULT_PYTHON
                : FALLBACK_IMAGE;
    }

    /** The run's container from an earlier launch, in any state; the oldest if a worker before this one made two. */
    private Optional<Container> containerOf(String runId) throws LaunchException, InterruptedException {
        try {
            return engine.client().listContainersCmd().withShowAll(true)
                    .withLabelFilter(Map.of(ContainerSpec.FLOW_RUN_ID, runId)).exec().stream()
                    .min(Comparator.comparing(Container::getCreated));
        } catch (RuntimeException e) {
            throwIfInterrupted(e);
            throw new LaunchException("cannot ask the Docker engine for containers of flow run " + runId + ": "
                    + rootMessage(e), e);
        }
    }

    /** A container of this run exists already: use it, and start it if the earlier launch did not get that far. */
    private RunHandle adopt(Container found, ContainerSpec spec, RunLog runLog) throws LaunchException, InterruptedException {
        ContainerRef container = new ContainerRef(found.getId(), nameOf(found));
        runLog.info("Found container '" + container.name() + "' (" + ContainerRef.shortId(container.id())
                + ") of this flow run from an earlier launch; using it instead of creating another");
        if ("created".equals(found.getState())) {
            Set<String> joined = found.getNetworkSettings() == null || found.getNetworkSettings().getNetworks() == null
                    ? Set.of() : found.getNetworkSettings().getNetworks().keySet();
            start(container, spec, joined);
            runLog.info("Started container '" + container.name() + "' (" + ContainerRef.shortId(container.id())
                    + ") from image '" + found.getImage() + "'");
        }
        return handle(container, spec.autoRemove());
    }

    /** Creates the container; a name in use gets -1, -2, … as Prefect's worker does. */
    private ContainerRef create(ContainerSpec spec, String runId) throws LaunchException, InterruptedException {
        String base = spec.baseName();
        for (int attempt = 0; ; attempt++) {
            String name = base.isEmpty() ? null : attempt == 0 ? base : base + "-" + attempt;
            String id;
            try {
                id = spec.createCommand(engine.client(), name).exec().getId();
            } catch (ConflictException e) {
                if (name == null || attempt >= 50) {
                    throw new LaunchException("cannot create a container named '" + name + "': " + rootMessage(e));
                }
                continue;
            } catch (RuntimeException e) {
                // the engine may have created it all the same (an interrupt cuts the call, not the engine's work)
                boolean interrupted = Thread.interrupted();
                removeContainersOf(runId, interrupted);
                if (interrupted) {
                    throw new InterruptedException("interrupted while creating the container");
                }
                throw new LaunchException("the Docker engine refused to create the container for image '"
                        + spec.image() + "': " + rootMessage(e), e);
            }
            if (Thread.interrupted()) {
                removeQuietly(id);
                throw new InterruptedException("interrupted after creating the container");
            }
            return new ContainerRef(id, name == null ? ContainerRef.shortId(id) : name);
        }
    }

    /**
     * Joins the later networks, opens the output stream when asked, and starts the container. The output stream
     * is opened before the start, as {@code docker run} does, so that none of the output is lost.
     */
    private void start(ContainerRef container, ContainerSpec spec, Set<String> joined)
            throws LaunchException, InterruptedException {
        OutputPrinter output = null;
        try {
            for (String network : spec.laterNetworks()) {
                if (!joined.contains(network)) {
                    engine.client().connectToNetworkCmd().withNetworkId(network).withContainerId(container.id()).exec();
                }
            }
            if (spec.streamOutput()) {
                output = engine.streams().attachContainerCmd(container.id()).withStdOut(true).withStdErr(true)
                        .withFollowStream(true).withLogs(false).exec(new OutputPrinter(container.name(), context.console()));
                output.awaitAttached(container.id());
            }
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted before starting the container");
            }
            engine.client().startContainerCmd(container.id()).exec();
        } catch (InterruptedException e) {
            closeQuietly(output);
            throw e;
        } catch (RuntimeException | InfrastructureException e) {
            closeQuietly(output);
            throwIfInterrupted(e);
            throw new LaunchException("the Docker engine could not start container '" + container.name() + "': "
                    + rootMessage(e), e);
        }
        if (output != null) {
            outputs.put(container.id(), output);
        }
    }

    private RunHandle handle(ContainerRef container, boolean autoRemove) {
        return new RunHandle(engine.infrastructurePid(container.id()), Map.of("container_id", container.id(),
                "container_name", container.name(), "auto_remove", String.valueOf(autoRemove)));
    }

    // ---- after the launch: everything works from the handle alone ----

    @Override
    public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) throws InfrastructureException {
        ContainerRef container = engine.container(handle);
        OutputPrinter output = outputs.get(container.id());
        return watcher.watch(container.id(), container.name(), sink, output == null ? null : output.finished());
    }

    @Override
    public Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException, InterruptedException {
        ContainerRef container = engine.container(handle);
        try {
            return phases.of(engine.client().inspectContainerCmd(container.id()).exec(), container.name());
        } catch (NotFoundException e) {
            return ContainerPhases.disappeared(container.name());
        } catch (RuntimeException e) {
            throwIfInterrupted(e);
            throw new InfrastructureException("cannot inspect container " + container.name() + ": " + rootMessage(e), e);
        }
    }

    /**
     * Stops the container ({@code POST /containers/{id}/stop?t=grace}: SIGTERM, SIGKILL after the grace) and
     * leaves it in place for its exit code; removal is {@link #release}'s. A container that has ended already is
     * {@link KillOutcome#NOT_FOUND}: nothing was left to stop.
     */
    @Override
    public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace)
            throws InfrastructureException, InterruptedException {
        if (!engine.owns(handle)) {
            return KillOutcome.NOT_AVAILABLE;
        }
        ContainerRef container = engine.container(handle);
        phases.stoppingByWorker(container.id());
        try {
            engine.streams().stopContainerCmd(container.id()).withTimeout((int) Math.max(0, grace.toSeconds())).exec();
            return KillOutcome.KILLED;
        } catch (NotFoundException | NotModifiedException e) {
            return KillOutcome.NOT_FOUND;
        } catch (RuntimeException e) {
            throwIfInterrupted(e);
            throw new InfrastructureException("cannot stop container " + container.name() + ": " + rootMessage(e), e);
        }
    }

    /** Containers labelled for the scope's pool (and worker), with their run and what they are doing. */
    @Override
    public List<Discovered> discover(InfrastructureScope scope) throws InfrastructureException, InterruptedException {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put(ContainerSpec.WORK_POOL_ID, scope.workPoolId());
        if (scope.workerName() != null) {
            labels.put(ContainerSpec.WORKER_NAME, scope.workerName());
        }
        List<Container> found;
        try {
            found = engine.client().listContainersCmd().withShowAll(true).withLabelFilter(labels).exec();
        } catch (RuntimeException e) {
            throwIfInterrupted(e);
            throw new InfrastructureException("cannot list the containers of work pool " + scope.workPoolName() + ": "
                    + rootMessage(e), e);
        }
        List<Discovered> out = new ArrayList<>();
        for (Container c : found) {
            String runId = c.getLabels() == null ? null : c.getLabels().get(ContainerSpec.FLOW_RUN_ID);
            if (runId != null) {
                RunHandle handle = new RunHandle(engine.infrastructurePid(c.getId()),
                        Map.of("container_id", c.getId(), "container_name", nameOf(c)));
                out.add(new Discovered(runId, handle, recover(handle, null)));
            }
        }
        return out;
    }

    /**
     * Forgets the run and, with {@code auto_remove}, removes its container. The removal happens here rather than
     * through the engine's AutoRemove so that the exit code stays readable until the core has reported it, even
     * by a worker that restarted meanwhile. A running container is never removed (no force).
     */
    @Override
    public void release(RunHandle handle, ObjectNode configuration) {
        if (!engine.owns(handle)) {
            return;
        }
        ContainerRef container;
        try {
            container = engine.container(handle);
        } catch (InfrastructureException e) {
            return;
        }
        phases.forget(container.id());
        closeQuietly(outputs.remove(container.id()));
        if (!autoRemove(handle, configuration)) {
            return;
        }
        try {
            engine.client().removeContainerCmd(container.id()).exec();
        } catch (NotFoundException e) {
            // removed already
        } catch (RuntimeException e) {
            log.warn("Could not remove container {} (auto_remove): {}", container.name(), rootMessage(e));
        }
    }

    /** What the configuration says when the core passes one; what the launch recorded otherwise. */
    private static boolean autoRemove(RunHandle handle, ObjectNode configuration) {
        if (configuration != null && configuration.hasNonNull("auto_remove")) {
            return configuration.get("auto_remove").asBoolean(false);
        }
        return Boolean.parseBoolean(handle.state().get("auto_remove"));
    }

    @Override
    public void close() {
        watcher.close();
        outputs.values().forEach(DockerConnection::closeQuietly);
        outputs.clear();
        engine.close();
    }

    // ---- small helpers ----

    /** Removes the run's containers; after an interrupted create, looks once more for one the engine finished late. */
    private void removeContainersOf(String runId, boolean lookAgain) {
        for (int look = 0; look < (lookAgain ? 2 : 1); look++) {
            try {
                if (look > 0) {
                    Thread.sleep(1_000);
                }
                engine.client().listContainersCmd().withShowAll(true)
                        .withLabelFilter(Map.of(ContainerSpec.FLOW_RUN_ID, runId)).exec()
                        .forEach(c -> removeQuietly(c.getId()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                log.warn("Could not look for a half-created container of flow run {}: {}", runId, rootMessage(e));
            }
        }
    }

    private void removeQuietly(String id) {
        try {
            engine.client().removeContainerCmd(id).withForce(true).exec();
        } catch (RuntimeException ignored) {
            // gone already, or the engine is; nothing more to do for a launch that failed anyway
        }
    }

    /**
     * An interrupt during an engine call closes the call's connection, so the call fails; that failure is the
     * interrupt, not the engine's.
     */
    private static void throwIfInterrupted(Exception failure) throws InterruptedException {
        if (Thread.interrupted()) {
            InterruptedException e = new InterruptedException("interrupted during a Docker engine call");
            e.addSuppressed(failure);
            throw e;
        }
    }

    private static String nameOf(Container c) {
        String[] names = c.getNames();
        return names != null && names.length > 0 ? names[0].replaceFirst("^/", "") : ContainerRef.shortId(c.getId());
    }
}
