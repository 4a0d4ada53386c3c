package io.pworker.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Short helper commands (prefect-ref, the docker CLI), each bounded in time. */
final class Commands {

    private Commands() {
    }

    record Result(int code, String stdout, String stderr) {
    }

    /** Runs a short command with a bound; its output goes to files so that a chatty one cannot block on a pipe. */
    static Result exec(List<String> cmd, Map<String, String> env, int timeoutSeconds) throws IOException, InterruptedException {
        Path out = Files.createTempFile("worker-it-", ".out");
        Path err = Files.createTempFile("worker-it-", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            // Prefect settings of whoever runs the tests must not reach the servers or the CLI
            pb.environment().keySet().removeIf(k -> k.startsWith("PREFECT_") && !k.equals("PREFECT_REF_HOME"));
            pb.environment().putAll(env);
            Process p = pb.start();
            boolean done;
            try {
                done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                // a test's @Timeout interrupts us: the command must not outlive the test
                kill(p);
                throw e;
            }
            if (!done) {
                kill(p);
                throw new IOException(String.join(" ", cmd) + " did not finish within " + timeoutSeconds + " s");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        try {
            p.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
