package io.pworker.bench;

import io.pworker.testkit.FakePrefectServer;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What metrics cost an idle worker: the distribution started with {@code --with-healthcheck}, with and without
 * {@code PWORKER_METRICS=true}, in turns; after 30 s of polling {@code /metrics} is scraped a few times (as
 * Prometheus would) and the RSS is read 5 s later. Prints each start's RSS and the medians.
 *
 * <p>{@code java -cp "bench/target/classes:bench/target/lib/*" io.pworker.bench.MetricsFootprint [launcher] [rounds]}
 */
public final class MetricsFootprint {

    private MetricsFootprint() {
    }

    public static void main(String[] args) throws Exception {
        Path launcher = Path.of(args.length > 0 ? args[0] : "distribution/target/pworker/bin/pworker").toAbsolutePath();
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        Path cache = Files.createTempDirectory("pworker-bench-metrics");
        List<Double> off = new ArrayList<>();
        List<Double> on = new ArrayList<>();
        try (FakePrefectServer prefect = FakePrefectServer.start()) {
            prefect.setContractChecks(false);
            for (int i = 0; i < rounds; i++) {
                off.add(idleRss(prefect, launcher, cache, false, "off" + i));
                on.add(idleRss(prefect, launcher, cache, true, "on" + i));
                System.out.printf("round %d: metrics off %.1f MiB, on %.1f MiB%n", i, off.getLast(), on.getLast());
            }
        }
        System.out.printf("median idle RSS: metrics off %.1f MiB, on %.1f MiB (+%.1f MiB)%n", median(off), median(on),
                median(on) - median(off));
    }

    private static double median(List<Double> values) {
        double[] s = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double idleRss(FakePrefectServer prefect, Path launcher, Path cache, boolean metrics, String pool)
            throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ProcessBuilder pb = new ProcessBuilder(launcher.toString(), "start", "--pool", pool, "--type", "process",
                "--name", "bench-" + pool, "--with-healthcheck").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Map<String, String> env = pb.environment();
        env.put("PREFECT_API_URL", prefect.apiUrl());
        env.put("PWORKER_CACHE_DIR", cache.toString());
        env.put("PREFECT_HOME", cache.resolve("prefect-home").toString());
        env.put("PWORKER_STATE_DIR", cache.resolve("state-" + pool).toString());
        env.put("PREFECT_WORKER_WEBSERVER_HOST", "127.0.0.1");
        env.put("PREFECT_WORKER_WEBSERVER_PORT", String.valueOf(port));
        env.put("PWORKER_METRICS", String.valueOf(metrics));
        Process p = pb.start();
        try (HttpClient http = HttpClient.newHttpClient()) {
            Thread.sleep(30_000);
            for (int i = 0; i < 3; i++) {
                String path = metrics ? "/metrics" : "/health";
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() != 200) {
                    throw new IllegalStateException(path + " answered " + r.statusCode());
                }
                Thread.sleep(1_000);
            }
            Thread.sleep(5_000);
            for (String line : Files.readAllLines(Path.of("/proc/" + p.pid() + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
                }
            }
            throw new IllegalStateException("no VmRSS for " + p.pid());
        } finally {
            p.destroy();
            if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }
}
