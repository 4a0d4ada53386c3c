package io.pworker.cli;

import io.pworker.worker.PluginRegistry;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * Entry point of the {@code pworker} command. Exit codes: 0 done, 1 the worker could not start or failed
 * (server refused, infrastructure unavailable), 2 bad usage or configuration (flags, settings, files). Every
 * error is one line on stderr starting with {@code Error:}; stack traces go to the DEBUG log only.
 */
public final class Main {

    static final int FAILED = 1;
    static final int USAGE = CommandLine.ExitCode.USAGE;

    private Main() {
    }

    public static void main(String[] args) {
        // Prefect's server (uvicorn) drops idle keep-alive connections after 5 s; the JDK client keeps them 30 s
        // and then sends a request on a dead one. Close ours first.
        if (System.getProperty("jdk.httpclient.keepalive.timeout") == null) {
            System.setProperty("jdk.httpclient.keepalive.timeout", "4");
        }
        System.exit(execute(args, System.getenv(), System.out, System.err));
    }

    /** Runs one command line with this environment and these streams, and returns the exit code. */
    static int execute(String[] args, Map<String, String> environment, PrintStream out, PrintStream err) {
        // For a worker, finding the plugins and preparing the first API request go on while the command line is
        // parsed and logging set up, on the other core.
        Supplier<PluginRegistry> plugins = args.length > 0 && args[0].equals("start")
                ? PluginDiscovery.inBackground(Warmup::firstRequest) : PluginRegistry::discover;
        CommandLine cmd = new CommandLine(new PworkerCommand(), new Factory(environment, out, err, plugins))
                .setCaseInsensitiveEnumValuesAllowed(true);
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        cmd.setParameterExceptionHandler((e, arguments) -> {
            StringBuilder line = new StringBuilder("Error: ").append(oneLine(e.getMessage()));
            if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
                line.append("; did you mean ").append(String.join(" or ", u.getSuggestions())).append('?');
            }
            line.append(" (see '").append(e.getCommandLine().getCommandSpec().qualifiedName()).append(" --help')");
            err.println(line);
            return USAGE;
        });
        cmd.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            // a bug or an environment problem nobody foresaw: still one line, the trace for whoever turns on DEBUG
            LoggerFactory.getLogger(Main.class).debug("pworker failed", e);
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : oneLine(e.getMessage());
            err.println("Error: " + message);
            return FAILED;
        });
        return cmd.execute(args);
    }

    static String oneLine(String text) {
        return text == null ? "" : text.strip().replaceAll("\\s*\\R\\s*", "; ");
    }

    /** Gives the commands the environment and streams of this run instead of the process's own. */
    private record Factory(Map<String, String> environment, PrintStream out, PrintStream err,
            Supplier<PluginRegistry> plugins) implements CommandLine.IFactory {

        @Override
        public <K> K create(Class<K> type) throws Exception {
            if (type == StartCommand.class) {
                return type.cast(new StartCommand(environment, out, err, plugins));
            }
            if (type == RenderCommand.class) {
                return type.cast(new RenderCommand(environment, out, err));
            }
            return CommandLine.defaultFactory().create(type);
        }
    }
}
