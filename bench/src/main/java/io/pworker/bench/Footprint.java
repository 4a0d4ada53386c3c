package io.pworker.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.testkit.FakePrefectServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Measures the real distribution ({@code distribution/target/pworker/bin/pworker}) against the Prefect API
 * fake: time from process start to the first poll, idle RSS, and RSS while 200 flow runs are watched.
 * Prints figures and their ratio to Prefect's Python process worker measured on the same kind of machine
 * (as given in the core issue: 117 MiB idle, 1.9 s to first poll).
 *
 * <p>Run with {@code ./pw bench} (builds first). Not a test: the numbers depend on the machine.
 */
public final class Footprint {

    private static final double PYTHON_IDLE_MIB = 117;
    private static final double PYTHON_FIRST_POLL_S = 1.9;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Footprint() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--real")) {
            RealBench.main(Path.of("distribution/target/pworker/bin/pworker").toAbsolutePath(),
                    java.util.Arrays.asList(args).subList(1, args.length));
            return;
        }
        Path launcher = Path.of(args.length > 0 ? args[0] : "distribution/target/pworker/bin/pworker").toAbsolutePath();
        int starts = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        Path cache = Files.createTempDirectory("pworker-bench-cds");
        try (FakePrefectServer prefect = FakePrefectServer.start()) {
            prefect.setContractChecks(false);
            // the first start writes the class-data-sharing archive; it is reported separately
            List<Double> firstPoll = new ArrayList<>();
            double coldest = startToFirstPoll(prefect, launcher, cache, "cold");
            for (int i = 0; i < starts; i++) {
                firstPoll.add(startToFirstPoll(prefect, launcher, cache, "warm-" + i));
            }
            double[] sorted = firstPoll.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double median = sorted[sorted.length / 2];

            Measured idle = idleAndLoaded(prefect, launcher, cache);
            System.out.println();
            System.out.println("pworker footprint (" + launcher + ", JDK chosen by the launcher)");
            System.out.printf("  start -> first poll, first start (writes CDS archive): %.3f s%n", coldest);
            System.out.printf("  start -> first poll, median of %d starts:              %.3f s   (%.2fx of Python's %.1f s)%n",
                    starts, median, median / PYTHON_FIRST_POLL_S, PYTHON_FIRST_POLL_S);
            System.out.printf("  idle RSS after 30 s of polling:                        %.1f MiB (%.2fx of Python's %.0f MiB)%n",
                    idle.idleMib, idle.idleMib / PYTHON_IDLE_MIB, PYTHON_IDLE_MIB);
            System.out.printf("  RSS while watching 200 flow-run processes:             %.1f MiB (%.2fx of idle)%n",
                    idle.loadedMib, idle.loadedMib / idle.idleMib);
            System.out.println("  goals: idle RSS <= 58 MiB, start -> first poll <= 0.45 s");
        } finally {
            try (var files = Files.walk(cache)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private record Measured(double idleMib, double loadedMib) {
    }

    private static Process spawn(FakePrefectServer prefect, Path launcher, Path cache, String pool, String... extra)
            throws IOException {
        List<String> cmd = new ArrayList<>(List.of(launcher.toString(), "start", "--pool", pool, "--type", "process",
                "--name", "bench-" + pool));
        cmd.addAll(Arrays.asList(extra));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Map<String, String> env = pb.environment();
        env.put("PREFECT_API_URL", prefect.apiUrl());
        env.put("PWORKER_CACHE_DIR", cache.toString());
        env.put("PREFECT_HOME", cache.resolve("prefect-home").toString());
        env.put("PREFECT_WORKER_PREFETCH_SECONDS", "0");
        return pb.start();
    }

    private static double startToFirstPoll(FakePrefectServer prefect, Path launcher, Path cache, String pool)
            throws Exception {
        Instant started = Instant.now();
        Process p = spawn(prefect, launcher, cache, pool);
        try {
            String path = "/work_pools/" + pool + "/get_scheduled_flow_runs";
            FakePrefectServer.await(Duration.ofSeconds(60), () -> prefect.requests().stream()
                    .anyMatch(r -> r.path().endsWith(path)), "first poll of " + pool);
            Instant polled = prefect.requests().stream().filter(r -> r.path().endsWith(path)).findFirst()
                    .orElseThrow().time();
            return Duration.between(started, polled).toNanos() / 1e9;
        } finally {
            stop(p);
        }
    }

    private static Measured idleAndLoaded(FakePrefectServer prefect, Path launcher, Path cache) throws Exception {
        String pool = "load";
        Process p = spawn(prefect, launcher, cache, pool);
        try {
            // settled: start-up garbage collected, compiler scratch memory trimmed
            Thread.sleep(30_000);
            double idle = rssMib(p.pid());
            String flow = prefect.createFlow("bench");
            String dep = prefect.createDeployment(flow, "sleepers", pool,
                    JSON.readTree("{\"command\":\"sleep 120\",\"stream_output\":false}"));
            List<String> runs = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                runs.add(prefect.createFlowRun(dep, JSON.createObjectNode()));
            }
            FakePrefectServer.await(Duration.ofSeconds(180), () -> runs.stream().allMatch(id ->
                    !prefect.flowRun(id).path("infrastructure_pid").asText("").isEmpty()), "200 runs launched");
            Thread.sleep(5_000);
            return new Measured(idle, rssMib(p.pid()));
        } finally {
            stop(p);
        }
    }

    private static void stop(Process p) throws InterruptedException {
        p.destroy();
        if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
    }

    private static double rssMib(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
            }
        }
        throw new IOException("no VmRSS for " + pid);
    }
}
