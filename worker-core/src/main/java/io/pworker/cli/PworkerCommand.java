package io.pworker.cli;

import io.pworker.worker.PluginRegistry;
import io.pworker.worker.Version;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;

@Command(name = "pworker", mixinStandardHelpOptions = true, versionProvider = PworkerCommand.VersionProvider.class,
        description = "A Prefect-compatible worker: polls a work pool and runs its flow runs on infrastructure.",
        subcommands = {StartCommand.class, RenderCommand.class, PworkerCommand.TypesCommand.class})
final class PworkerCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class VersionProvider implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"pworker " + Version.get() + " (Prefect worker contract "
                    + io.pworker.worker.Worker.PREFECT_VERSION + ", API 0.8.4)"};
        }
    }

    @Command(name = "types", mixinStandardHelpOptions = true, description = "List the worker types this installation serves.")
    static final class TypesCommand implements Runnable {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            PluginRegistry registry = PluginRegistry.discover();
            for (var plugin : registry.plugins()) {
                spec.commandLine().getOut().printf("%-28s %s%n", plugin.type(), PluginRegistry.pluginClass(plugin).getName());
            }
            registry.problems().forEach(problem -> spec.commandLine().getErr().println("Broken plugin: " + problem));
            spec.commandLine().getOut().flush();
        }
    }
}
