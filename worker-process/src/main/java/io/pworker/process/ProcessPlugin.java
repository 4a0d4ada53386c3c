package io.pworker.process;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import java.util.Optional;
import java.util.TreeMap;

/** Type {@code process}: each flow run is a local subprocess in its own process group. */
public final class ProcessPlugin implements InfrastructurePlugin {

    /** Local processes die with the worker's host, so the worker stops them when it stops (as Prefect does). */
    private static final Capabilities CAPABILITIES = new Capabilities(true, false);

    @Override
    public String type() {
        return "process";
    }

    @Override
    public String workerClassName() {
        return "ProcessWorker";
    }

    @Override
    public ObjectNode defaultBaseJobTemplate() {
        return InfrastructurePlugin.bundledTemplate(ProcessPlugin.class);
    }

    /**
     * The command line, working directory and environment a launch would start, as {@link ProcessSpec.Plan}
     * makes them for {@link ProcessLauncher}, without the internal exit-code wrapper ({@code setsid /bin/sh -c …
     * pworker-run EXIT_FILE}) that goes in front. What only the worker's machine knows stays unresolved: the
     * program is looked up on PATH, the working directory checked, and the worker's own environment put under
     * {@code env} at launch.
     */
    @Override
    public Optional<ObjectNode> preview(LaunchRequest request) throws LaunchException {
        ProcessSpec.Plan plan = ProcessSpec.Plan.of(ProcessJobConfiguration.from(request.configuration()));
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        out.put("program", plan.argv().getFirst());
        plan.argv().subList(1, plan.argv().size()).forEach(out.putArray("args")::add);
        out.put("working_dir", plan.workingDir() != null ? plan.workingDir().toString()
                : "(a new temporary directory " + ProcessStarter.temporaryDirectoryPrefix(request.run())
                        + "…, removed when the run is released)");
        ObjectNode env = out.putObject("env");
        new TreeMap<>(plan.env()).forEach(env::put);
        out.put("inherited_environment", "(the worker's own environment, under env)");
        out.put("output", plan.streamOutput() ? "copied to the worker's console as [" + plan.name() + "] lines"
                : "discarded");
        return Optional.of(out);
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        return new ProcessLauncher(context, ExitWrapper.detect());
    }
}
