package io.pworker.ops;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a command with a time bound and returns its exit code and output; the tests drive docker this way. */
final class Commands {

    record Result(int code, String out) {
    }

    private Commands() {
    }

    static Result run(Duration timeout, Map<String, String> env, List<String> command) throws IOException, InterruptedException {
        Path out = Files.createTempFile("pworker-ops-", ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new IOException("timed out after " + timeout + ": " + String.join(" ", command) + "\n"
                        + Files.readString(out, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8).trim());
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** Runs docker; fails with its output when it fails. */
    static String docker(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("docker"));
        command.addAll(List.of(args));
        Result r = run(Duration.ofMinutes(3), Map.of(), command);
        if (r.code() != 0) {
            throw new IOException("docker " + String.join(" ", args) + " failed (" + r.code() + "): " + r.out());
        }
        return r.out();
    }

    /** docker that may fail (clean-up, probing); the result says how it went. */
    static Result dockerMay(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("docker"));
        command.addAll(List.of(args));
        return run(Duration.ofMinutes(2), Map.of(), command);
    }

    /**
     * A Docker engine on the default socket, or the test's end: skipped with the reason outside CI, failed under
     * {@code CI=true} (.ci/run starts an engine there).
     */
    static void requireDocker() throws IOException, InterruptedException {
        Result r;
        try {
            r = dockerMay("version", "--format", "{{.Server.Version}}");
        } catch (IOException e) {
            r = new Result(-1, e.getMessage());
        }
        if (r.code() != 0) {
            String why = "no Docker engine on the default socket (.ci/docker-default.sh starts one): " + r.out();
            if ("true".equals(System.getenv("CI"))) {
                throw new AssertionError(why);
            }
            org.junit.jupiter.api.Assumptions.abort(why);
        }
    }

    /** The JDK running the tests, for jlink and for the JVM inside the systemd container. */
    static String javaHome() {
        return System.getProperty("java.home");
    }

    static int freePort() throws IOException {
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
