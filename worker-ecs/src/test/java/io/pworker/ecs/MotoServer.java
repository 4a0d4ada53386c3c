package io.pworker.ecs;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * moto's server (a local fake of the AWS APIs, installed by {@code .ci/moto.sh}), started once per test JVM on a
 * free port of 127.0.0.1 and stopped by its pid when the JVM exits. When it cannot start, tests fail under
 * {@code CI=true} and are skipped otherwise, with the reason printed once.
 */
final class MotoServer {

    static final String REGION = "us-east-1";
    private static final Path BINARY = Path.of("/usr/bin/moto_server");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

    /** Started on first use; immutable after initialisation. */
    private static final class Holder {
        static final MotoServer INSTANCE = new MotoServer();
    }

    final URI endpoint;
    final String unavailable;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    static MotoServer get() {
        MotoServer moto = Holder.INSTANCE;
        if (moto.unavailable != null) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                Assertions.fail("moto is needed for the ecs tests under CI: " + moto.unavailable);
            }
            Assumptions.abort("no moto server: " + moto.unavailable);
        }
        return moto;
    }

    private MotoServer() {
        URI uri = null;
        String reason = null;
        try {
            uri = start();
        } catch (Exception e) {
            reason = e.getMessage();
            System.err.println("ecs tests: cannot start moto (" + reason + "); run .ci/moto.sh as root");
        }
        this.endpoint = uri;
        this.unavailable = reason;
    }

    private URI start() throws Exception {
        if (!Files.isExecutable(BINARY)) {
            throw new IOException(BINARY + " is not installed");
        }
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path log = Files.createDirectories(Path.of("target")).resolve("moto.log");
        Process process = new ProcessBuilder(BINARY.toString(), "-H", "127.0.0.1", "-p", String.valueOf(port))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long pid = process.pid();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> ProcessHandle.of(pid).ifPresent(p -> {
            p.destroy();
            p.onExit().orTimeout(10, TimeUnit.SECONDS).exceptionally(e -> {
                p.destroyForcibly();
                return p;
            }).join();
        })));
        URI uri = URI.create("http://127.0.0.1:" + port);
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IOException("moto_server exited with " + process.exitValue() + "; see " + log.toAbsolutePath());
            }
            try {
                HttpResponse<Void> r = http.send(HttpRequest.newBuilder(uri.resolve("/moto-api/"))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return uri;
                }
            } catch (IOException notYet) {
                // still starting
            }
            Thread.sleep(200);
        }
        process.destroyForcibly();
        throw new IOException("moto_server did not answer within " + START_TIMEOUT.toSeconds() + " s");
    }

    /** Sets how moto moves a model through its states (its state-manager API), e.g. {@code ecs::task}. */
    void setTransition(String model, String transitionJson) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(endpoint.resolve("/moto-api/state-manager/set-transition"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"model_name\": \"" + model + "\", \"transition\": "
                        + transitionJson + "}")).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2) {
            throw new IOException("moto refused the transition: " + r.statusCode() + " " + r.body());
        }
    }
}
