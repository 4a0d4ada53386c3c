package io.pworker.cloudrun;

import static org.junit.jupiter.api.Assertions.fail;

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
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * The real Docker engine the fake runs executions on: the one at DOCKER_HOST or the default socket, else a
 * dockerd started here (as root). Its image is imported from a static busybox, since no registry is reachable.
 * Without an engine the tests abort with the reason, except under {@code CI=true}, where they fail.
 */
final class TestDocker {

    static final String IMAGE = "pworker-test/busybox:1";
    private static final Path DIR = Path.of("/tmp/pworker-cloudrun-dockerd");

    /** Found once per test JVM; immutable afterwards. */
    private static final class Holder {
        static final TestDocker INSTANCE = new TestDocker();
    }

    final DockerClient client;
    final String unavailable;

    static TestDocker get() {
        TestDocker d = Holder.INSTANCE;
        if (d.unavailable != null) {
            if ("true".equalsIgnoreCase(System.getenv("CI"))) {
                fail("no Docker engine under CI: " + d.unavailable);
            }
            Assumptions.abort("no Docker engine: " + d.unavailable);
        }
        return d;
    }

    private TestDocker() {
        String host = System.getenv("DOCKER_HOST") != null ? System.getenv("DOCKER_HOST") : "unix:///var/run/docker.sock";
        DockerClient c = ping(host);
        String reason = null;
        if (c == null) {
            try {
                c = startDaemon("unix://" + DIR.resolve("docker.sock"));
            } catch (Exception e) {
                reason = "none at " + host + " and none could be started: " + e.getMessage();
            }
        }
        if (c != null) {
            try {
                ensureImage(c);
            } catch (Exception e) {
                reason = "cannot build the test image: " + e.getMessage();
            }
        }
        client = c;
        unavailable = reason;
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
        Files.createDirectories(DIR);
        Process daemon = new ProcessBuilder(dockerd.toString(), "--storage-driver=vfs", "--iptables=false",
                "--ip6tables=false", "--bridge=none", "-H", host, "--data-root", DIR.resolve("data").toString(),
                "--exec-root", DIR.resolve("exec").toString(), "--pidfile", DIR.resolve("docker.pid").toString())
                .redirectErrorStream(true).redirectOutput(DIR.resolve("dockerd.log").toFile()).start();
        Runtime.getRuntime().addShutdownHook(new Thread(daemon::destroy));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline && daemon.isAlive()) {
            DockerClient c = ping(host);
            if (c != null) {
                return c;
            }
            Thread.sleep(200);
        }
        daemon.destroy();
        throw new IOException("dockerd did not start; see " + DIR.resolve("dockerd.log"));
    }

    private static void ensureImage(DockerClient c) throws Exception {
        try {
            c.inspectImageCmd(IMAGE).exec();
            return;
        } catch (NotFoundException e) {
            // build it below
        }
        Path busybox = Stream.of("/bin/busybox", "/usr/bin/busybox").map(Path::of).filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new IOException("busybox-static is not installed (run .ci/docker-engine.sh)"));
        Path root = Files.createTempDirectory("pworker-cloudrun-rootfs");
        Path bin = Files.createDirectories(root.resolve("bin"));
        Files.copy(busybox, bin.resolve("busybox"));
        for (String applet : List.of("sh", "sleep", "echo", "env", "true", "false", "cat")) {
            Files.createSymbolicLink(bin.resolve(applet), Path.of("busybox"));
        }
        Path tar = Files.createTempFile("pworker-cloudrun-rootfs", ".tar");
        try {
            run("tar", "-C", root.toString(), "-cf", tar.toString(), ".");
            // the CLI's import; docker-java's streamed import body arrives truncated
            run("docker", "import", tar.toString(), IMAGE);
        } finally {
            Files.deleteIfExists(tar);
            try (Stream<Path> files = Files.walk(root)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " failed: " + out.strip());
        }
    }
}
