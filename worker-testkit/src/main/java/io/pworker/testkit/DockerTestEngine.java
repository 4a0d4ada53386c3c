package io.pworker.testkit;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.core.DefaultDockerClientConfig;
import com.github.dockerjava.core.DockerClientImpl;
import com.github.dockerjava.httpclient5.ApacheDockerHttpClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * A real Docker engine for the plugins' tests (docker, kubernetes' fake kubelet, the Cloud Run and ACI fakes): the
 * one at DOCKER_HOST or the default socket when it answers, otherwise a dockerd started here on a private socket
 * under {@link #DIR} (stopped when the test JVM exits). The test image {@link #IMAGE} is made with
 * {@code docker import} from the host's static busybox, since no registry is reachable. When no engine can be had,
 * tests fail under {@code CI=true} and are skipped with the reason elsewhere, never passed.
 *
 * <p>docker-java is an optional dependency of the testkit: a module using this class declares docker-java itself
 * (every such module does, its tests talk to the engine), and the testkit's other users do not get it.
 */
public final class DockerTestEngine {

    /**
     * The test image: a static busybox with the applets every plugin's tests use, wget included (so that a
     * container can report its flow run's state to the Prefect API fake), and a /tmp.
     */
    public static final String IMAGE = "pworker-test/busybox:2";
    /** The applets linked into {@link #IMAGE}: the union of what the plugins' tests run. */
    static final List<String> APPLETS = List.of("sh", "sleep", "echo", "cat", "env", "true", "false", "ls", "touch",
            "mkdir", "rm", "id", "pwd", "grep", "wget");
    /** The private dockerd's directory (socket, pid file, data, logs) and the image import's log; the one place. */
    static final Path DIR = Path.of("/tmp/pworker-dockerd");
    /** Whether the reason for skipping was printed already: once per test JVM is enough. */
    private static final AtomicBoolean TOLD = new AtomicBoolean();

    /** Started once per test JVM; the holder is immutable after initialisation. */
    private static final class Holder {
        static final DockerTestEngine INSTANCE = new DockerTestEngine();
    }

    private final String host;
    private final DockerClient client;
    private final String unavailable;

    /**
     * The engine, or no test: under {@code CI=true} a missing engine fails the test (a green build must mean the
     * docker tests ran); elsewhere the test is skipped, and the reason is printed once on stderr because Surefire
     * shows skips only as a count.
     */
    public static DockerTestEngine get() {
        DockerTestEngine engine = Holder.INSTANCE;
        if (engine.unavailable != null) {
            String reason = "no Docker engine: " + engine.unavailable;
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                Assertions.fail("CI=true, so this fails instead of being skipped: " + reason);
            }
            if (TOLD.compareAndSet(false, true)) {
                System.err.println("[" + module() + "] SKIPPED (not in CI): " + reason);
            }
            Assumptions.abort(reason);
        }
        return engine;
    }

    /** The engine's address as DOCKER_HOST takes it, e.g. {@code unix:///var/run/docker.sock}. */
    public String host() {
        return host;
    }

    /** A client of the engine, shared by the test JVM. */
    public DockerClient client() {
        return client;
    }

    private DockerTestEngine() {
        String found = System.getenv("DOCKER_HOST") != null ? System.getenv("DOCKER_HOST") : "unix:///var/run/docker.sock";
        DockerClient c = ping(found);
        String reason = null;
        if (c == null) {
            String tried = found;
            found = "unix://" + DIR.resolve("docker.sock");
            try {
                c = startDaemon(found);
            } catch (Exception e) {
                reason = "none at " + tried + " and none could be started: " + e.getMessage();
            }
        }
        this.host = found;
        this.client = c;
        if (c != null) {
            try {
                ensureImage(c, found);
            } catch (Exception e) {
                reason = "cannot build the test image: " + e.getMessage();
            }
        }
        this.unavailable = c == null && reason == null ? "no engine found" : reason;
    }

    /** The module under test, as Surefire runs each module's tests in its directory. */
    private static String module() {
        Path dir = Path.of(System.getProperty("user.dir")).getFileName();
        return dir == null ? "docker tests" : dir.toString();
    }

    private static DockerClient ping(String host) {
        try {
            var config = DefaultDockerClientConfig.createDefaultConfigBuilder().withDockerHost(host).build();
            DockerClient c = DockerClientImpl.getInstance(config, new ApacheDockerHttpClient.Builder()
                    .dockerHost(config.getDockerHost()).connectionTimeout(Duration.ofSeconds(2)).build());
            c.pingCmd().exec();
            return c;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static DockerClient startDaemon(String host) throws Exception {
        Path dockerd = Stream.of("/usr/sbin/dockerd", "/usr/bin/dockerd").map(Path::of).filter(Files::isExecutable)
                .findFirst().orElseThrow(() -> new IOException("dockerd is not installed (run .ci/docker-engine.sh)"));
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new IOException("dockerd needs root");
        }
        Files.createDirectories(DIR);
        Path pidFile = DIR.resolve("docker.pid");
        if (Files.exists(pidFile)) {
            long old = Long.parseLong(Files.readString(pidFile).strip());
            ProcessHandle.of(old).ifPresent(p -> {
                p.destroy();
                p.onExit().orTimeout(20, TimeUnit.SECONDS).join();
            });
            Files.deleteIfExists(pidFile);
        }
        Files.deleteIfExists(DIR.resolve("docker.sock"));
        for (String driver : List.of("overlay2", "vfs")) {
            Process daemon = new ProcessBuilder(dockerd.toString(), "--storage-driver=" + driver, "--iptables=false",
                    "--ip6tables=false", "--bridge=none", "-H", host, "--data-root", DIR.resolve("data-" + driver).toString(),
                    "--exec-root", DIR.resolve("exec").toString(), "--pidfile", pidFile.toString())
                    .redirectErrorStream(true).redirectOutput(DIR.resolve("dockerd-" + driver + ".log").toFile()).start();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                daemon.destroy();
                try {
                    daemon.waitFor(20, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < deadline && daemon.isAlive()) {
                DockerClient c = ping(host);
                if (c != null) {
                    return c;
                }
                Thread.sleep(200);
            }
            daemon.destroy();
            daemon.waitFor(20, TimeUnit.SECONDS);
        }
        throw new IOException("dockerd did not start; see " + DIR + "/dockerd-*.log");
    }

    private static void ensureImage(DockerClient c, String host) throws Exception {
        try {
            c.inspectImageCmd(IMAGE).exec();
            return;
        } catch (NotFoundException e) {
            // build it
        }
        Path busybox = Stream.of("/bin/busybox", "/usr/bin/busybox").map(Path::of).filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new IOException("busybox-static is not installed (run .ci/docker-engine.sh)"));
        Path root = Files.createTempDirectory("pworker-rootfs");
        Path tar = Files.createTempFile("pworker-rootfs", ".tar");
        try {
            Path bin = Files.createDirectories(root.resolve("bin"));
            Files.copy(busybox, bin.resolve("busybox"));
            for (String applet : APPLETS) {
                Files.createSymbolicLink(bin.resolve(applet), Path.of("busybox"));
            }
            Files.createDirectories(root.resolve("tmp"));
            Process p = new ProcessBuilder("tar", "-C", root.toString(), "-cf", tar.toString(), ".").inheritIO().start();
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("tar failed");
            }
            // the docker CLI's import is what the engine's import endpoint is tested with; docker-java's streamed body
            // arrives truncated ("unexpected EOF"). The engine may be one this JVM did not start: DIR may not exist yet.
            Files.createDirectories(DIR);
            Path log = DIR.resolve("import.log");
            Process imp = new ProcessBuilder("docker", "-H", host, "import", tar.toString(), IMAGE)
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!imp.waitFor(120, TimeUnit.SECONDS) || imp.exitValue() != 0) {
                imp.destroyForcibly();
                throw new IOException("docker import failed: " + Files.readString(log).strip());
            }
        } finally {
            Files.deleteIfExists(tar);
            try (Stream<Path> files = Files.walk(root)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
