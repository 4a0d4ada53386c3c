package io.pworker.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * One worker process under measurement, Prefect's own ({@code prefect worker start}, inside the server's bundle)
 * or pworker's distribution, both serving a process pool at their default settings. Stopped as each wants to be
 * (SIGINT for Prefect's, SIGTERM for pworker), then whatever it left running below it is killed by pid.
 */
final class BenchWorker implements AutoCloseable {

    enum Kind {
        PREFECT("Prefect's worker"), PWORKER("pworker");

        final String label;

        Kind(String label) {
            this.label = label;
        }
    }

    /** Wrappers between the pid we spawn and the worker itself, should the bundle ever add one. */
    private static final Set<String> WRAPPERS = Set.of("sh", "bash", "chroot", "env", "prefect-ref", "unshare");

    final Kind kind;
    final Instant started;
    private final Process process;
    private final Path home;

    private BenchWorker(Kind kind, Instant started, Process process, Path home) {
        this.kind = kind;
        this.started = started;
        this.process = process;
        this.home = home;
    }

    static BenchWorker start(Kind kind, RealServer server, Path pworker, String pool) throws IOException {
        // under /tmp: the same path inside the bundle's chroot
        Path home = Files.createTempDirectory(Path.of("/tmp"), "pworker-bench-home");
        List<String> cmd = kind == Kind.PREFECT
                ? server.inside("prefect", "worker", "start", "--pool", pool)
                : List.of(pworker.toString(), "start", "--pool", pool);
        // the log outlives the run, for a look at what a worker did: /tmp/pworker-bench-logs/<pool>.log
        Path logs = Files.createDirectories(Path.of("/tmp/pworker-bench-logs"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(logs.resolve(pool + ".log").toFile());
        Map<String, String> env = pb.environment();
        env.put("PREFECT_API_URL", server.api);
        env.put("PREFECT_HOME", home.resolve("prefect").toString());
        env.put("PWORKER_STATE_DIR", home.resolve("state").toString());
        Instant started = Instant.now();
        return new BenchWorker(kind, started, pb.start(), home);
    }

    /** The worker's own pid: the one spawned, or the process a wrapper runs. */
    long pid() {
        long pid = process.pid();
        for (int depth = 0; depth < 5 && WRAPPERS.contains(Procs.comm(pid)); depth++) {
            List<Long> below = Procs.descendants(pid);
            if (below.isEmpty()) {
                break;
            }
            pid = below.get(0);
        }
        return pid;
    }

    /**
     * The worker's flow-run processes named {@code comm}: below it, or (pworker's detached runs, re-parented to
     * init) anywhere with the worker's own {@code PREFECT_HOME} in their environment.
     */
    long countRuns(String comm) {
        java.util.Set<Long> runs = new java.util.HashSet<>(Procs.descendants(process.pid()));
        runs.addAll(Procs.withEnvironment(homeEntry()));
        return runs.stream().filter(p -> comm.equals(Procs.comm(p))).count();
    }

    private String homeEntry() {
        return "PREFECT_HOME=" + home.resolve("prefect");
    }

    boolean alive() {
        return process.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        List<Long> left = new java.util.ArrayList<>(Procs.descendants(process.pid()));
        left.addAll(Procs.withEnvironment(homeEntry()));
        left.remove(process.pid());
        // the bundle may run Prefect's worker below a wrapper; the signal must reach the worker itself
        Procs.signal(pid(), kind == Kind.PREFECT ? "INT" : "TERM");
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        for (long p : left) {
            Procs.signal(p, "KILL");
        }
        try (var files = Files.walk(home)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary directory left behind
        }
    }
}
