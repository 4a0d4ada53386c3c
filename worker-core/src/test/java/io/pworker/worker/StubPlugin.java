package io.pworker.worker;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.RunHandle;
import io.pworker.spi.Watch;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-memory infrastructure for core tests. The job configuration drives it: {@code exit_code} (int, default 0),
 * {@code fail_launch} (string: LaunchException message), {@code throw_launch} (true: RuntimeException),
 * {@code hold} (true: runs until killed).
 */
final class StubPlugin implements InfrastructurePlugin {

    static final String TEMPLATE = """
            {"job_configuration": {"command": "{{ command }}", "env": "{{ env }}", "labels": "{{ labels }}",
                                   "name": "{{ name }}", "exit_code": "{{ exit_code }}", "hold": "{{ hold }}",
                                   "fail_launch": "{{ fail_launch }}", "throw_launch": "{{ throw_launch }}",
                                   "secret": "{{ secret }}"},
             "variables": {"type": "object", "properties": {
                "command": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
                "env": {"type": "object", "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "name": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": null},
                "exit_code": {"type": "integer", "default": 0},
                "hold": {"type": "boolean", "default": false},
                "fail_launch": {"type": "string"},
                "throw_launch": {"type": "boolean", "default": false},
                "secret": {"type": "string"}}}}
            """;

    final List<LaunchRequest> launched = new CopyOnWriteArrayList<>();
    final Map<String, CountDownLatch> running = new ConcurrentHashMap<>();
    final Map<String, Integer> exitCodes = new ConcurrentHashMap<>();
    final AtomicInteger kills = new AtomicInteger();
    private final boolean failCreate;

    StubPlugin() {
        this(false);
    }

    StubPlugin(boolean failCreate) {
        this.failCreate = failCreate;
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
        return new Capabilities(true, false);
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        if (failCreate) {
            throw new InfrastructureException("stub engine at stub://nowhere is unreachable");
        }
        return new InfrastructureLauncher() {
            private final AtomicInteger next = new AtomicInteger(1000);

            @Override
            public RunHandle launch(LaunchRequest request) throws LaunchException {
                launched.add(request);
                ObjectNode c = request.configuration();
                if (c.hasNonNull("fail_launch")) {
                    throw new LaunchException(c.get("fail_launch").asText());
                }
                if (c.path("throw_launch").asBoolean(false)) {
                    throw new IllegalStateException("stub plugin bug");
                }
                String pid = String.valueOf(next.incrementAndGet());
                CountDownLatch done = new CountDownLatch(c.path("hold").asBoolean(false) ? 1 : 0);
                running.put(pid, done);
                exitCodes.put(pid, c.path("exit_code").asInt(0));
                return RunHandle.ofPid(pid);
            }

            @Override
            public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) {
                Thread t = Thread.ofVirtual().start(() -> {
                    try {
                        sink.report(recover(handle, configuration));
                        CountDownLatch done = running.get(handle.infrastructurePid());
                        if (done != null) {
                            done.await();
                            sink.report(recover(handle, configuration));
                        }
                    } catch (InterruptedException e) {
                        // the watch was closed
                    }
                });
                return t::interrupt;
            }

            @Override
            public Phase recover(RunHandle handle, ObjectNode configuration) {
                CountDownLatch done = running.get(handle.infrastructurePid());
                if (done == null) {
                    return new Phase.Gone("unknown");
                }
                return done.getCount() > 0 ? new Phase.Running()
                        : Phase.Exited.of(exitCodes.get(handle.infrastructurePid()));
            }

            @Override
            public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace) {
                CountDownLatch done = running.get(handle.infrastructurePid());
                if (done == null) {
                    return KillOutcome.NOT_FOUND;
                }
                kills.incrementAndGet();
                exitCodes.put(handle.infrastructurePid(), -15);
                done.countDown();
                return KillOutcome.KILLED;
            }
        };
    }
}
