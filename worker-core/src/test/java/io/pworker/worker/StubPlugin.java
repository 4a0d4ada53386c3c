package io.pworker.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.Discovered;
import io.pworker.spi.InfrastructureEvent;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.RunHandle;
import io.pworker.spi.Watch;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-memory infrastructure for core tests. Its infrastructure lives in the plugin object, so a second worker
 * given the same plugin finds what the first one launched, as after a restart.
 *
 * <p>The job configuration drives a launch: {@code exit_code} (int, default 0: ends at once with it),
 * {@code hold} (true: runs until killed or {@link #set}), {@code pending_detail} (starts Pending with that detail),
 * {@code fail_launch} (LaunchException message), {@code throw_launch} (RuntimeException),
 * {@code launch_wait} (blocks in launch until interrupted), {@code throw_watch} (RuntimeException from watch).
 */
final class StubPlugin implements InfrastructurePlugin {

    static final String TEMPLATE = """
            {"job_configuration": {"command": "{{ command }}", "env": "{{ env }}", "labels": "{{ labels }}",
                                   "name": "{{ name }}", "exit_code": "{{ exit_code }}", "hold": "{{ hold }}",
                                   "fail_launch": "{{ fail_launch }}", "throw_launch": "{{ throw_launch }}",
                                   "secret": "{{ secret }}", "pending_detail": "{{ pending_detail }}",
                                   "launch_wait": "{{ launch_wait }}", "throw_watch": "{{ throw_watch }}"},
             "variables": {"type": "object", "properties": {
                "command": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
                "env": {"type": "object", "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "name": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
                "exit_code": {"type": "integer", "default": 0},
                "hold": {"type": "boolean", "default": false},
                "fail_launch": {"type": "string"},
                "throw_launch": {"type": "boolean", "default": false},
                "secret": {"type": "string"},
                "pending_detail": {"type": "string"},
                "launch_wait": {"type": "boolean", "default": false},
                "throw_watch": {"type": "boolean", "default": false}}}}
            """;

    /** One piece of stub infrastructure: its run, its phase and who watches it. */
    static final class Infra {
        final String flowRunId;
        final String poolId;
        volatile Phase phase;
        final List<PhaseSink> sinks = new CopyOnWriteArrayList<>();

        Infra(String flowRunId, String poolId, Phase phase) {
            this.flowRunId = flowRunId;
            this.poolId = poolId;
            this.phase = phase;
        }
    }

    final List<LaunchRequest> launched = new CopyOnWriteArrayList<>();
    final List<String> interruptedLaunches = new CopyOnWriteArrayList<>();
    final List<String> released = new CopyOnWriteArrayList<>();
    final List<ObjectNode> configurationsSeen = new CopyOnWriteArrayList<>();
    final AtomicInteger kills = new AtomicInteger();
    final Map<String, Infra> infra = new ConcurrentHashMap<>();
    private final AtomicInteger next = new AtomicInteger(1000);
    private final boolean failCreate;
    private final Capabilities capabilities;

    StubPlugin() {
        this(false);
    }

    StubPlugin(boolean failCreate) {
        this(failCreate, new Capabilities(true, false));
    }

    StubPlugin(boolean failCreate, Capabilities capabilities) {
        this.failCreate = failCreate;
        this.capabilities = capabilities;
    }

    /** Infrastructure that outlives the worker, like containers. */
    static StubPlugin outliving() {
        return new StubPlugin(false, new Capabilities(true, true));
    }

    /** Puts infrastructure in place as if a worker had launched it; returns its pid. */
    String place(String flowRunId, String poolId, Phase phase) {
        String pid = String.valueOf(next.incrementAndGet());
        infra.put(pid, new Infra(flowRunId, poolId, phase));
        return pid;
    }

    /** Changes what the infrastructure is doing and tells its watchers. */
    void set(String pid, Phase phase) {
        Infra i = infra.get(pid);
        i.phase = phase;
        i.sinks.forEach(s -> s.report(phase));
    }

    /** Sends the infrastructure's own output to its watchers, as a plugin does for failed infrastructure. */
    void failureLog(String pid, List<String> lines) {
        infra.get(pid).sinks.forEach(s -> lines.forEach(s::failureLog));
    }

    /** Tells the infrastructure's watchers about an event, as a plugin seeing a change would. */
    void event(String pid, InfrastructureEvent event) {
        infra.get(pid).sinks.forEach(s -> s.event(event));
    }

    /** The pid launched for a flow run, if any. */
    Optional<String> pidOf(String flowRunId) {
        return infra.entrySet().stream().filter(e -> e.getValue().flowRunId.equals(flowRunId)).map(Map.Entry::getKey)
                .findFirst();
    }

    long launchesOf(String flowRunId) {
        return launched.stream().filter(r -> r.run().id().equals(flowRunId)).count();
    }

    @Override
    public String type() {
        return "stub";
    }

    @Override
    public String workerClassName() {
        return "StubWorker";
    }

    @Override
    public ObjectNode defaultBaseJobTemplate() {
        try {
            return (ObjectNode) new ObjectMapper().readTree(TEMPLATE);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public Capabilities capabilities() {
        return capabilities;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        if (failCreate) {
            throw new InfrastructureException("stub engine at stub://nowhere is unreachable");
        }
        return new InfrastructureLauncher() {

            @Override
            public RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException {
                launched.add(request);
                ObjectNode c = request.configuration();
                if (c.hasNonNull("fail_launch")) {
                    throw new LaunchException(c.get("fail_launch").asText());
                }
                if (c.path("throw_launch").asBoolean(false)) {
                    throw new IllegalStateException("stub plugin bug");
                }
                if (c.path("launch_wait").asBoolean(false)) {
                    try {
                        Thread.sleep(Duration.ofMinutes(5));
                    } catch (InterruptedException e) {
                        interruptedLaunches.add(request.run().id());
                        throw e;
                    }
                }
                Phase phase = c.hasNonNull("pending_detail") ? new Phase.Pending(c.get("pending_detail").asText())
                        : c.path("hold").asBoolean(false) ? new Phase.Running()
                        : Phase.Exited.of(c.path("exit_code").asInt(0));
                return handle(place(request.run().id(), request.run().workPoolId(), phase), request.run().id());
            }

            @Override
            public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) {
                configurationsSeen.add(configuration);
                if (configuration.path("throw_watch").asBoolean(false)) {
                    throw new IllegalStateException("stub watch bug");
                }
                Infra i = infra.get(handle.infrastructurePid());
                if (i == null) {
                    sink.report(new Phase.Gone("stub infrastructure " + handle.infrastructurePid() + " does not exist"));
                    return () -> { };
                }
                i.sinks.add(sink);
                sink.report(i.phase);
                return () -> i.sinks.remove(sink);
            }

            @Override
            public Phase recover(RunHandle handle, ObjectNode configuration) {
                configurationsSeen.add(configuration);
                Infra i = infra.get(handle.infrastructurePid());
                return i == null ? new Phase.Gone("stub infrastructure " + handle.infrastructurePid() + " does not exist")
                        : i.phase;
            }

            @Override
            public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace) {
                Infra i = infra.get(handle.infrastructurePid());
                if (i == null || i.phase.terminal()) {
                    return KillOutcome.NOT_FOUND;
                }
                kills.incrementAndGet();
                set(handle.infrastructurePid(), Phase.Exited.of(-15));
                return KillOutcome.KILLED;
            }

            @Override
            public List<Discovered> discover(InfrastructureScope scope) {
                List<Discovered> out = new ArrayList<>();
                infra.forEach((pid, i) -> {
                    if (scope.workPoolId().equals(i.poolId)) {
                        out.add(new Discovered(i.flowRunId, handle(pid, i.flowRunId), i.phase));
                    }
                });
                return out;
            }

            @Override
            public void release(RunHandle handle, ObjectNode configuration) {
                configurationsSeen.add(configuration);
                released.add(handle.infrastructurePid());
            }
        };
    }

    private static RunHandle handle(String pid, String flowRunId) {
        return new RunHandle(pid, Map.of("flow_run_id", flowRunId));
    }
}
