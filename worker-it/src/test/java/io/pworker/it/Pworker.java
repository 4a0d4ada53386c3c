package io.pworker.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The real distribution, {@code distribution/target/pworker/bin/pworker start …}, as a subprocess whose output
 * goes to {@code target/it/logs/<name>.log}. Stopped by pid: SIGTERM (what an operator or systemd sends), then
 * SIGKILL; whatever it launched and left behind is killed by pid too.
 */
final class Pworker implements AutoCloseable {

    /** Longer than a graceful stop takes: runs are stopped with the kill grace, then events are flushed. */
    private static final int STOP_GRACE_SECONDS = 60;

    private final String name;
    private final Process process;
    private final Path log;
    private final Started.Handle handle;
    private Integer exitCode;
    /** Killed with SIGKILL by {@link #sigkill()}: what it launched is left running, as a real crash leaves it. */
    private volatile boolean killed;

    private Pworker(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
        this.handle = Started.register("pid-" + process.pid(), "io.pworker.cli.Main", () -> {
            if (!killed) {
                kill(STOP_GRACE_SECONDS);
            }
        });
    }

    static Path distribution() {
        return Path.of(System.getProperty("pworker.distribution", "../distribution/target/pworker")).toAbsolutePath().normalize();
    }

    /**
     * Starts {@code pworker start --pool POOL --type TYPE --name NAME ARGS…} with {@code settings} as its whole
     * Prefect configuration: the caller's PREFECT_* variables and profiles are not seen (PREFECT_HOME is an
     * empty directory).
     */
    static Pworker start(String pool, String type, String name, Map<String, String> settings, String... args) throws IOException {
        Path launcher = distribution().resolve("bin/pworker");
        if (!Files.isExecutable(launcher)) {
            // the reactor builds the distribution before this module; its absence is a build problem, never a skip
            throw new AssertionError("no pworker distribution at " + launcher + " (build it: mvn -B package -DskipTests)");
        }
        Path logs = Files.createDirectories(Started.dir().resolve("logs"));
        Path log = logs.resolve(name + ".log");
        // a worker started again under the same name (a restart) writes beside its predecessor's log
        for (int i = 2; Files.exists(log); i++) {
            log = logs.resolve(name + "-" + i + ".log");
        }
        Path home = Files.createDirectories(Started.dir().resolve("prefect-home").resolve(name));
        List<String> cmd = new ArrayList<>(List.of(launcher.toString(), "start", "--pool", pool, "--type", type, "--name", name));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("PREFECT_") || k.startsWith("PWORKER_") || k.startsWith("DOCKER_"));
        env.put("PREFECT_HOME", home.toString());
        // one class-data archive for all workers of this build, made by the first start
        env.put("PWORKER_CACHE_DIR", Started.dir().resolve("cds").toString());
        env.putAll(settings);
        return new Pworker(name, pb.start(), log);
    }

    String name() {
        return name;
    }

    long pid() {
        return process.pid();
    }

    Path log() {
        return log;
    }

    /** SIGTERM and wait for a graceful exit; returns the exit code (null if it had to be killed). */
    Integer stop() {
        handle.close();
        return exitCode;
    }

    /**
     * SIGKILL to the worker's pid, as the OOM killer or a crashed host would end it: no shutdown, nothing it
     * launched is stopped (nor is it stopped later by {@link #close()}: that is the caller's to clean up).
     * Returns once the process is gone.
     */
    void sigkill() throws InterruptedException {
        killed = true;
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("pworker " + name + " (pid " + pid() + ") still alive 30 s after SIGKILL");
        }
        handle.close();
    }

    private void kill(int graceSeconds) {
        List<ProcessHandle> launched = process.descendants().toList();
        try {
            process.destroy();
            if (process.waitFor(graceSeconds, TimeUnit.SECONDS)) {
                exitCode = process.exitValue();
            } else {
                System.err.println("[worker-it] pworker " + name + " (pid " + pid() + ") ignored SIGTERM for "
                        + graceSeconds + " s; killing it");
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        // a worker that was killed cannot stop its flow-run processes; their pids were taken above
        for (ProcessHandle p : launched) {
            if (p.isAlive()) {
                p.destroyForcibly();
            }
        }
    }

    @Override
    public void close() {
        handle.close();
    }
}
