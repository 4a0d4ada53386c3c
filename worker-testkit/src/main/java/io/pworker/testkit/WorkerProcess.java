package io.pworker.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code pworker start} in a child JVM, on the test's own class path, so that a test can kill it the hard
 * way (SIGKILL, by pid) and start another one on the same state directory, as after a crash. Its output (stdout
 * and stderr, where the worker logs) goes to a file the test can read; {@link #close()} kills it if it still runs.
 */
public final class WorkerProcess implements AutoCloseable {

    private final Process process;
    private final Path output;

    private WorkerProcess(Process process, Path output) {
        this.process = process;
        this.output = output;
    }

    /**
     * Starts {@code pworker start <args>} with exactly {@code environment} (plus a private {@code HOME} when it has
     * none, so no profile of the user's is read).
     *
     * @param output where the worker's stdout and stderr go (appended)
     */
    public static WorkerProcess start(Map<String, String> environment, Path output, String... args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                // a small, quick JVM: these workers live for seconds
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss512k", "-Xmx128m",
                "-cp", System.getProperty("java.class.path"), "io.pworker.cli.Main", "start"));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(output.toFile()));
        Map<String, String> env = builder.environment();
        env.clear();
        env.putAll(environment);
        try {
            if (!env.containsKey("HOME")) {
                env.put("HOME", Files.createDirectories(output.resolveSibling("home")).toString());
            }
            return new WorkerProcess(builder.start(), output);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start a worker JVM", e);
        }
    }

    /** Settings for a child worker against {@code prefect}: its fast test intervals, as environment variables. */
    public static Map<String, String> environment(FakePrefectServer prefect, Path stateDirectory, String... extra) {
        Map<String, String> env = new HashMap<>(prefect.workerSettings());
        env.put("PWORKER_STATE_DIR", stateDirectory.toString());
        env.put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        for (int i = 0; i + 1 < extra.length; i += 2) {
            env.put(extra[i], extra[i + 1]);
        }
        return env;
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** SIGKILL, as a crash or the OOM killer would; returns once the JVM is gone. */
    public void kill() {
        process.destroyForcibly();
        waitFor(Duration.ofSeconds(10));
    }

    /** SIGTERM, a graceful stop; returns the exit code, or -1 when it did not exit in time. */
    public int stop(Duration timeout) {
        process.destroy();
        return waitFor(timeout);
    }

    private int waitFor(Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** Everything the worker printed so far. */
    public String output() {
        try {
            return Files.readString(output, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            kill();
        }
    }
}
