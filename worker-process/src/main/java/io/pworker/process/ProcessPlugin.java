package io.pworker.process;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** Type {@code process}: each flow run is a local subprocess in its own process group. */
public final class ProcessPlugin implements InfrastructurePlugin {

    /** Local processes die with the worker's host, so the worker stops them when it stops (as Prefect does). */
    private static final Capabilities CAPABILITIES = new Capabilities(true, false, true);

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
        try (InputStream in = ProcessPlugin.class.getResourceAsStream("base-job-template.json")) {
            return (ObjectNode) new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("process plugin jar lacks its base job template", e);
        }
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) {
        return new ProcessLauncher(context);
    }
}
