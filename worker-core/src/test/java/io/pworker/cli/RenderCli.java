package io.pworker.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * {@code pworker} through its real entry point, for the plugin modules' render tests: the plugins on the test's
 * class path are found as the distribution finds its own.
 */
public final class RenderCli {

    /** The exit code, stdout, and stderr's lines. */
    public record Outcome(int code, String out, List<String> err) {
    }

    private RenderCli() {
    }

    public static Outcome run(Map<String, String> environment, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(args, environment, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8).lines().toList());
    }
}
