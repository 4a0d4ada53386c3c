package io.pworker.process;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;

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

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        return new ProcessLauncher(context, ExitWrapper.detect());
    }
}
