package io.pworker.worker;

import static io.pworker.testkit.FakePrefectServer.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.settings.Settings;
import io.pworker.spi.Capabilities;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.Watch;
import io.pworker.testkit.FakePrefectServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * For {@code pworker render}'s tests in each plugin's module: a worker serving a pool of {@code plugin}'s type
 * (with its default template) claims a run, and the configuration its launcher receives is recorded where the
 * plugin would get it; then {@link JobPreview} renders the same run. Nothing is launched, so no engine is needed.
 */
public final class RenderParity {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the plugin received and what render printed for the same run, and the run info each was given. */
    public record Result(ObjectNode launched, ObjectNode rendered, FlowRunInfo launchedRun, FlowRunInfo renderedRun) {
    }

    private RenderParity() {
    }

    /**
     * @param deploymentVariables the deployment's job variables (JSON)
     * @param runVariables        the flow run's own job variables (JSON)
     */
    public static Result check(InfrastructurePlugin plugin, String deploymentVariables, String runVariables)
            throws Exception {
        try (FakePrefectServer prefect = FakePrefectServer.start()) {
            // the state directory goes in the environment: the worker reads PWORKER_* from there, not from settings
            Map<String, String> environment = Map.of("HOME_DIR", "/home/w",
                    "PWORKER_STATE_DIR", prefect.stateDirectory().toString());
            prefect.createWorkPool("pool", plugin.type(), plugin.defaultBaseJobTemplate());
            String flowId = prefect.createFlow("etl");
            Map<String, String> settings = prefect.workerSettings("PREFECT_CLIENT_MAX_RETRIES", "1",
                    "PREFECT_API_KEY", "pnu_parity-key-123");
            Recording recording = new Recording(plugin);
            Worker worker = Worker.create(Settings.from(settings), WorkerOptions.of("pool", plugin.type()).withName("parity"),
                    new PluginRegistry(List.of(recording)), environment,
                    new PrintStream(new ByteArrayOutputStream()), Clock.systemUTC());
            try {
                worker.start();
                String deployment = prefect.createDeployment(flowId, "nightly", "pool", JSON.readTree(deploymentVariables));
                String run = prefect.createFlowRun(deployment, runVariables);
                await(Duration.ofSeconds(20), () -> !recording.received.isEmpty(), "the launch");
                JobPreview.Rendered rendered = JobPreview.prepare(Settings.from(settings), environment,
                        new JobPreview.Request("pool", deployment, null, run, "parity"));
                LaunchRequest launched = recording.received.getFirst();
                return new Result(launched.configuration(), rendered.configuration(), launched.run(), rendered.run());
            } finally {
                worker.stop();
            }
        }
    }

    /** The plugin's type and template, with a launcher that records what it is given and launches nothing. */
    private static final class Recording implements InfrastructurePlugin {
        private final InfrastructurePlugin real;
        final List<LaunchRequest> received = new CopyOnWriteArrayList<>();

        Recording(InfrastructurePlugin real) {
            this.real = real;
        }

        @Override
        public String type() {
            return real.type();
        }

        @Override
        public String workerClassName() {
            return real.workerClassName();
        }

        @Override
        public ObjectNode defaultBaseJobTemplate() {
            return real.defaultBaseJobTemplate();
        }

        @Override
        public Capabilities capabilities() {
            return real.capabilities();
        }

        @Override
        public InfrastructureLauncher create(PluginContext context) {
            return new InfrastructureLauncher() {
                @Override
                public RunHandle launch(LaunchRequest request) throws LaunchException {
                    received.add(new LaunchRequest(request.run(), request.configuration().deepCopy(), request.log()));
                    throw new LaunchException("recorded for the render test; nothing launched");
                }

                @Override
                public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) {
                    throw new UnsupportedOperationException();
                }

                @Override
                public Phase recover(RunHandle handle, ObjectNode configuration) {
                    return new Phase.Gone("nothing was launched");
                }

                @Override
                public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace) {
                    return KillOutcome.NOT_FOUND;
                }
            };
        }
    }
}
