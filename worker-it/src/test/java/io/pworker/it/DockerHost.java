package io.pworker.it;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A Docker engine holding the Prefect bundle as an image ({@code prefect-ref image}, local/prefect-ref:3.4.25).
 * The engine at DOCKER_HOST or the default socket when one answers; otherwise (a fresh CI machine) a dockerd
 * started here on a private socket, with its own data directory so that it never meets the docker plugin's test
 * engine, and stopped by pid when the JVM exits. Uses the docker CLI, which the engine's package brings.
 */
final class DockerHost {

    static final String IMAGE = "local/prefect-ref:3.4.25";
    private static final Path DIR = Path.of("/tmp/pworker-it-dockerd");

    private static boolean resolved;
    private static String host;
    private static String unavailable;

    private DockerHost() {
    }

    /** The engine's address with the image in it, or null; then {@link #unavailable()} says why. */
    static synchronized String host() {
        if (!resolved) {
            resolved = true;
            try {
                host = find();
                PrefectRef.image(host);
            } catch (Exception e) {
                host = null;
                unavailable = e.getMessage();
            }
        }
        return host;
    }

    static synchronized String unavailable() {
        host();
        return unavailable == null ? null : "no Docker engine with the Prefect image: " + unavailable;
    }

    /** Runs the docker CLI against the engine; throws with its output unless it exits 0. */
    static String docker(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("docker", "-H", host()));
        cmd.addAll(List.of(args));
        Commands.Result r = Commands.exec(cmd, Map.of(), 120);
        if (r.code() != 0) {
            throw new IOException(String.join(" ", cmd) + " exited " + r.code() + ": " + r.stderr().strip());
        }
        return r.stdout();
    }

    /** Removes the containers pworker made for {@code pool} (its label), whatever their state. */
    static void removeContainersOf(String pool) {
        try {
            String ids = docker("ps", "-aq", "--filter", "label=io.prefect.work-pool-name=" + pool).strip();
            if (!ids.isEmpty()) {
                List<String> cmd = new ArrayList<>(List.of("rm", "-f"));
                cmd.addAll(List.of(ids.split("\\s+")));
                docker(cmd.toArray(String[]::new));
            }
        } catch (Exception e) {
            System.err.println("[worker-it] could not remove the containers of pool " + pool + ": " + e.getMessage());
        }
    }

    private static String find() throws IOException, InterruptedException {
        if (onPath("docker") == null) {
            throw new IOException("the docker CLI is not installed (bash .ci/docker-engine.sh installs docker.io)");
        }
        String env = System.getenv("DOCKER_HOST");
        String candidate = env != null && !env.isBlank() ? env : "unix:///var/run/docker.sock";
        if (answers(candidate)) {
            return candidate;
        }
        String own = "unix://" + DIR.resolve("docker.sock");
        startDaemon(own);
        return own;
    }

    private static boolean answers(String h) throws InterruptedException {
        try {
            return Commands.exec(List.of("docker", "-H", h, "version", "--format", "{{.Server.Version}}"), Map.of(), 20).code() == 0;
        } catch (IOException e) {
            return false;
        }
    }

    private static void startDaemon(String address) throws IOException, InterruptedException {
        Path dockerd = onPath("dockerd");
        if (dockerd == null) {
            throw new IOException("no engine answers and dockerd is not installed (bash .ci/docker-engine.sh installs it)");
        }
        if (!Preconditions.root()) {
            throw new IOException("no engine answers, and starting dockerd needs root");
        }
        Files.createDirectories(DIR);
        Path pidFile = DIR.resolve("docker.pid");
        stopStale(pidFile);
        Files.deleteIfExists(DIR.resolve("docker.sock"));
        StringBuilder why = new StringBuilder();
        // overlay2 where the kernel and file system allow it, vfs (slow, always works) otherwise
        for (String driver : List.of("overlay2", "vfs")) {
            Path log = DIR.resolve("dockerd-" + driver + ".log");
            Process daemon = new ProcessBuilder(dockerd.toString(), "--storage-driver=" + driver, "--iptables=false",
                    "--ip6tables=false", "--bridge=none", "-H", address, "--data-root", DIR.resolve("data-" + driver).toString(),
                    "--exec-root", DIR.resolve("exec").toString(), "--pidfile", pidFile.toString())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Started.Handle handle = Started.register("pid-" + daemon.pid(), "dockerd", () -> stop(daemon));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
            while (System.nanoTime() < deadline && daemon.isAlive()) {
                if (answers(address)) {
                    return;
                }
                Thread.sleep(300);
            }
            handle.close();
            why.append(driver).append(": see ").append(log).append("; ");
        }
        throw new IOException("dockerd did not start (" + why.toString().strip() + ")");
    }

    private static void stop(Process daemon) {
        daemon.destroy();
        try {
            if (!daemon.waitFor(30, TimeUnit.SECONDS)) {
                daemon.destroyForcibly();
                daemon.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A dockerd of an earlier JVM that was killed before its hook ran; found by its pid file, checked by name. */
    private static void stopStale(Path pidFile) throws IOException {
        if (!Files.exists(pidFile)) {
            return;
        }
        long pid = Long.parseLong(Files.readString(pidFile).strip());
        ProcessHandle.of(pid).filter(p -> p.info().command().map(c -> c.endsWith("dockerd")).orElse(false)).ifPresent(p -> {
            p.destroy();
            p.onExit().completeOnTimeout(p, 30, TimeUnit.SECONDS).join();
        });
        Files.deleteIfExists(pidFile);
    }

    private static Path onPath(String program) {
        String path = System.getenv().getOrDefault("PATH", "/usr/local/bin:/usr/bin:/bin") + ":/usr/local/sbin:/usr/sbin:/sbin";
        return Stream.of(path.split(File.pathSeparator)).filter(d -> !d.isEmpty()).map(d -> Path.of(d, program))
                .filter(Files::isExecutable).findFirst().orElse(null);
    }
}
