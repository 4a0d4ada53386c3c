package io.pworker.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.pworker.bench.BenchWorker.Kind;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code ./pw bench --real}: Prefect's own Python worker and pworker, one after the other against the same fresh
 * real server (../shared/prefect-server), on process pools made with Prefect's template, at default settings. Each
 * scenario gets its own pool so that nothing one worker left behind reaches the other. Prints every figure for
 * both with the ratio pworker / Prefect, and the command and machine load that produced them.
 *
 * <p>Options: {@code --version 3.4.25|3.8.3}, {@code --port N} (4600–4649), {@code --starts N},
 * {@code --samples N} (run-now latency), {@code --backlog N}, {@code --inflight N}, {@code --only
 * start,now,backlog,inflight} (a subset of the scenarios), {@code --workers prefect,pworker}. pworker's JVM options
 * can be tried through {@code PWORKER_JAVA_OPTS}, which the launcher reads.
 */
final class RealBench {

    private final RealServer server;
    private final Path pworker;
    private final String flowId;
    private final com.fasterxml.jackson.databind.JsonNode template;
    private final Map<String, Map<Kind, Double>> figures = new java.util.LinkedHashMap<>();
    private final List<String> notes = new ArrayList<>();

    private RealBench(RealServer server, Path pworker) throws IOException, InterruptedException {
        this.server = server;
        this.pworker = pworker;
        this.flowId = server.post("/flows/", RealServer.JSON.createObjectNode().put("name", "bench")).path("id").asText();
        this.template = prefectTemplate(server);
    }

    static void main(Path pworker, List<String> args) throws Exception {
        String version = option(args, "--version", "3.4.25");
        int port = Integer.parseInt(option(args, "--port", version.equals("3.4.25") ? "4610" : "4611"));
        int starts = Integer.parseInt(option(args, "--starts", "3"));
        int samples = Integer.parseInt(option(args, "--samples", "15"));
        int backlog = Integer.parseInt(option(args, "--backlog", "300"));
        int inflight = Integer.parseInt(option(args, "--inflight", "100"));
        Path prefectRef = Path.of(option(args, "--prefect-ref", defaultPrefectRef())).toAbsolutePath();
        List<String> only = List.of(option(args, "--only", "start,now,backlog,inflight").split(","));
        List<String> workers = List.of(option(args, "--workers", "prefect,pworker").split(","));
        String load = loadAverage();
        System.out.println("starting Prefect " + version + " on port " + port + " …");
        try (RealServer server = RealServer.start(prefectRef, version, port)) {
            RealBench bench = new RealBench(server, pworker);
            if (only.contains("backlog")) {
                bench.floor(backlog);
            }
            for (Kind kind : Kind.values()) {
                if (!workers.contains(kind.name().toLowerCase())) {
                    continue;
                }
                System.out.println("measuring " + kind.label + " …");
                if (only.contains("start")) {
                    bench.startAndIdle(kind, starts);
                }
                if (only.contains("now")) {
                    bench.runNow(kind, samples);
                }
                if (only.contains("backlog")) {
                    bench.backlog(kind, backlog);
                }
                if (only.contains("inflight")) {
                    bench.inFlight(kind, inflight);
                }
            }
            bench.print(version, load, String.join(" ", args));
        }
    }

    // ------------------------------------------------------------------ scenarios

    /** The server's own floor: a bare client proposing PENDING 8 at a time, nothing else. */
    private void floor(int n) throws Exception {
        String dep = pool("floor", "sleep 1");
        List<String> ids = createRuns(dep, n);
        Instant t0 = Instant.now();
        parallel(8, ids, id -> server.proposePending(id));
        record("backlog floor: bare client, PENDING 8 at a time (s)", Kind.PREFECT, seconds(t0, Instant.now()));
        record("backlog floor: bare client, PENDING 8 at a time (s)", Kind.PWORKER, seconds(t0, Instant.now()));
    }

    private void startAndIdle(Kind kind, int starts) throws Exception {
        List<Double> firstPolls = new ArrayList<>();
        for (int i = 0; i < starts; i++) {
            String pool = "start-" + kind.name().toLowerCase() + "-" + i;
            pool(pool, "true");
            try (BenchWorker w = BenchWorker.start(kind, server, pworker, pool)) {
                Instant polled = awaitFirstPoll(w, pool);
                firstPolls.add(seconds(w.started, polled));
                if (i == starts - 1) {
                    for (int at : new int[] {8, 15, 30}) {
                        sleepUntil(w.started.plusSeconds(at));
                        record("idle RSS " + at + " s after start (MiB)", kind, Procs.treeRssKib(w.pid()) / 1024.0);
                    }
                }
            }
        }
        Collections.sort(firstPolls);
        record("start → first poll, median of " + starts + " (s)", kind, firstPolls.get(firstPolls.size() / 2));
    }

    private void runNow(Kind kind, int samples) throws Exception {
        String pool = "now-" + kind.name().toLowerCase();
        String dep = pool(pool, "sleep 5");
        List<Double> latencies = new ArrayList<>();
        try (BenchWorker w = BenchWorker.start(kind, server, pworker, pool)) {
            awaitFirstPoll(w, pool);
            Thread.sleep(2_000);
            for (int i = 0; i < samples; i++) {
                JsonNode run = server.createRun(dep);
                String id = run.path("id").asText();
                Instant created = RealServer.instant(run.path("created").asText());
                await(Duration.ofSeconds(60), () -> !"SCHEDULED".equals(server.get("/flow_runs/" + id).path("state_type").asText()));
                Instant pending = server.pendings(id).stream().min(Instant::compareTo).orElse(null);
                latencies.add(pending == null ? Double.NaN : seconds(created, pending));
                Thread.sleep(300 + (long) (Math.random() * 700));
            }
        }
        Collections.sort(latencies);
        record("run-now → PENDING p50, " + samples + " runs (s)", kind, percentile(latencies, 0.50));
        record("run-now → PENDING p95, " + samples + " runs (s)", kind, percentile(latencies, 0.95));
        record("run-now → PENDING max (s)", kind, latencies.get(latencies.size() - 1));
    }

    private void backlog(Kind kind, int n) throws Exception {
        String pool = "backlog-" + kind.name().toLowerCase();
        String dep = pool(pool, "sleep 60");
        List<String> ids = createRuns(dep, n);
        long peak = 0;
        Instant firstPoll;
        try (BenchWorker w = BenchWorker.start(kind, server, pworker, pool)) {
            firstPoll = awaitFirstPoll(w, pool);
            Instant deadline = Instant.now().plusSeconds(240);
            while (Instant.now().isBefore(deadline)) {
                peak = Math.max(peak, Procs.rssKib(w.pid()));
                long waiting = server.runsOf(dep).stream().filter(r -> "SCHEDULED".equals(r.path("state_type").asText())).count();
                if (waiting == 0) {
                    break;
                }
                Thread.sleep(250);
            }
            peak = Math.max(peak, Procs.rssKib(w.pid()));
        }
        List<List<Instant>> claims = parallel(8, ids, server::pendings);
        long missing = claims.stream().filter(List::isEmpty).count();
        long claimedTwice = claims.stream().filter(c -> c.size() > 1).count();
        List<Double> times = claims.stream().filter(c -> !c.isEmpty())
                .map(c -> seconds(firstPoll, c.stream().min(Instant::compareTo).orElseThrow())).sorted().toList();
        record("backlog " + n + ": first poll → half PENDING (s)", kind, percentile(times, 0.5));
        record("backlog " + n + ": first poll → all PENDING (s)", kind, times.isEmpty() ? Double.NaN : times.get(times.size() - 1));
        record("backlog " + n + ": peak RSS (MiB)", kind, peak / 1024.0);
        if (missing > 0) {
            notes.add(kind.label + ": " + missing + " of " + n + " backlog runs never became PENDING within 240 s");
        }
        record("backlog " + n + ": runs with two accepted claims", kind, (double) claimedTwice);
    }

    private void inFlight(Kind kind, int n) throws Exception {
        String pool = "inflight-" + kind.name().toLowerCase();
        String dep = pool(pool, "sleep 600");
        try (BenchWorker w = BenchWorker.start(kind, server, pworker, pool)) {
            awaitFirstPoll(w, pool);
            sleepUntil(w.started.plusSeconds(20));
            long before = Procs.rssKib(w.pid());
            createRuns(dep, n);
            await(Duration.ofSeconds(300), () -> w.countRuns("sleep") >= n);
            Thread.sleep(5_000);
            long after = Procs.rssKib(w.pid());
            record("RSS per in-flight process run, " + n + " runs (KiB)", kind, (after - before) / (double) n);
            record("threads with " + n + " runs in flight", kind, (double) Procs.threads(w.pid()));
        }
    }

    // ------------------------------------------------------------------ helpers

    /** A fresh process pool with a deployment running {@code command}; the deployment's id. */
    private String pool(String name, String command) throws IOException, InterruptedException {
        server.createPool(name, template);
        return server.deployment(flowId, name, command);
    }

    private List<String> createRuns(String dep, int n) throws Exception {
        List<Integer> indexes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            indexes.add(i);
        }
        // set-up, not measured: few enough at once that the SQLite server seldom answers "database is locked"
        return parallel(4, indexes, i -> server.createRun(dep).path("id").asText());
    }

    private Instant awaitFirstPoll(BenchWorker w, String pool) throws Exception {
        Instant[] polled = new Instant[1];
        await(Duration.ofSeconds(120), () -> {
            if (!w.alive()) {
                throw new IOException(w.kind.label + " exited before its first poll");
            }
            polled[0] = server.lastPolled(pool);
            return polled[0] != null;
        });
        return polled[0];
    }

    private static JsonNode prefectTemplate(RealServer server) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(server.inside("prefect", "work-pool", "create", "template-source",
                "--type", "process")).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("PREFECT_API_URL", server.api);
        if (pb.start().waitFor() != 0) {
            throw new IOException("prefect work-pool create failed");
        }
        return server.get("/work_pools/template-source").path("base_job_template");
    }

    interface Call<T, R> {
        R apply(T t) throws Exception;
    }

    interface Check {
        boolean ok() throws Exception;
    }

    private static <T, R> List<R> parallel(int threads, List<T> items, Call<T, R> call) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<R>> futures = new ArrayList<>();
            for (T item : items) {
                futures.add(pool.submit(() -> call.apply(item)));
            }
            List<R> out = new ArrayList<>();
            for (Future<R> f : futures) {
                out.add(f.get());
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void await(Duration timeout, Check check) throws Exception {
        Instant deadline = Instant.now().plus(timeout);
        while (!check.ok()) {
            if (Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("timed out after " + timeout);
            }
            Thread.sleep(50);
        }
    }

    private static void sleepUntil(Instant t) throws InterruptedException {
        long ms = Duration.between(Instant.now(), t).toMillis();
        if (ms > 0) {
            Thread.sleep(ms);
        }
    }

    private static double seconds(Instant a, Instant b) {
        return Duration.between(a, b).toNanos() / 1e9;
    }

    private static double percentile(List<Double> sorted, double p) {
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p * sorted.size()) - 1));
    }

    private void record(String figure, Kind kind, double value) {
        figures.computeIfAbsent(figure, f -> new EnumMap<>(Kind.class)).put(kind, value);
        System.out.printf("  %-55s %-17s %10.3f%n", figure, kind.label, value);
    }

    private static String option(List<String> args, String name, String fallback) {
        int i = args.indexOf(name);
        return i >= 0 && i + 1 < args.size() ? args.get(i + 1) : fallback;
    }

    /** ../shared next to the main checkout; a worktree sits one level deeper. */
    private static String defaultPrefectRef() {
        for (String candidate : List.of("../shared/prefect-server/prefect-ref", "../../shared/prefect-server/prefect-ref")) {
            if (java.nio.file.Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        return "../shared/prefect-server/prefect-ref";
    }

    private static String loadAverage() {
        try {
            return java.nio.file.Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (IOException e) {
            return "?";
        }
    }

    private void print(String version, String loadBefore, String args) {
        System.out.println();
        System.out.println("Prefect " + version + " server, process pools, default worker settings; "
                + Runtime.getRuntime().availableProcessors() + " CPUs; load average before: " + loadBefore
                + ", after: " + loadAverage());
        System.out.println("command: ./pw bench --real" + (args.isEmpty() ? "" : " " + args));
        System.out.println("| figure | Prefect's worker | pworker | ratio |");
        System.out.println("|---|---|---|---|");
        figures.forEach((figure, v) -> {
            Double py = v.get(Kind.PREFECT);
            Double pw = v.get(Kind.PWORKER);
            String ratio = py == null || pw == null || py == 0 ? "" : String.format("%.2f", pw / py);
            System.out.printf("| %s | %s | %s | %s |%n", figure, fmt(py), fmt(pw), ratio);
        });
        notes.forEach(n -> System.out.println("note: " + n));
    }

    private static String fmt(Double v) {
        return v == null ? "—" : String.format("%.2f", v);
    }
}
