package io.pworker.it;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The shared bundle of real Prefect servers ({@code ../shared/prefect-server/prefect-ref} beside the checkout):
 * starts and stops servers and runs Prefect's own CLI inside its root file system.
 */
final class PrefectRef {

    static final String V34 = "3.4.25";
    static final String V38 = "3.8.3";

    private PrefectRef() {
    }

    /**
     * The script: {@code PREFECT_REF} from the environment (for checkouts without {@code ../shared}, such as git
     * worktrees), else the path Maven passes, beside the multi-module root (with a second form of it for a build
     * started inside this module, where Maven's idea of that root is the module).
     */
    static Path script() {
        String env = System.getenv("PREFECT_REF");
        if (env != null && !env.isBlank()) {
            return Path.of(env).toAbsolutePath().normalize();
        }
        Path fromRoot = Path.of(System.getProperty("pworker.prefectRef", "../shared/prefect-server/prefect-ref")).toAbsolutePath().normalize();
        String fromModule = System.getProperty("pworker.prefectRefFromModule");
        if (!Files.exists(fromRoot) && fromModule != null && Files.exists(Path.of(fromModule))) {
            return Path.of(fromModule).toAbsolutePath().normalize();
        }
        return fromRoot;
    }

    /** Null when servers can be started here, else why not. */
    static String unavailable() {
        Path script = script();
        if (!Files.isRegularFile(script)) {
            return "the Prefect server bundle is missing: no " + script + " (expected ../shared/prefect-server/ beside the"
                    + " checkout; set PREFECT_REF to the script to use another)";
        }
        if (!Files.isRegularFile(script.resolveSibling("rootfs.tar.zst"))) {
            return "the Prefect server bundle is incomplete: no " + script.resolveSibling("rootfs.tar.zst");
        }
        if (!Preconditions.root()) {
            return "prefect-ref needs root (it unpacks a root file system and enters it with chroot)";
        }
        return null;
    }

    /**
     * The command line of a process run that executes real flow code with that version's {@code prefect}. Through
     * bash, so that a copy of the bundle that lost its execute bit still works; prefect-ref exec's down to
     * {@code prefect}, so the pid pworker reports is still the engine's.
     */
    static String flowRunExecuteCommand(String version) {
        return "bash '" + script() + "' run" + (V34.equals(version) ? "" : " --version " + version) + " prefect flow-run execute";
    }

    private static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of("bash", script().toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** A real server on a free port of 127.0.0.1, from an empty database. */
    record Server(String version, int port, String apiUrl, Started.Handle handle) implements AutoCloseable {
        Path log() {
            return Path.of(System.getenv().getOrDefault("PREFECT_REF_HOME", "/var/tmp/prefect-ref"), "server-" + port + ".log");
        }

        @Override
        public void close() {
            handle.close();
        }
    }

    static Server start(String version) throws IOException, InterruptedException {
        String failure = null;
        // a free port can be taken by someone else before the server binds it; two more tries cover that
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = freePort();
            Commands.Result r;
            try {
                r = Commands.exec(command("start", "--version", version, "--port", String.valueOf(port), "--fresh"), Map.of(), 180);
            } catch (InterruptedException e) {
                // the server runs in a session of its own, out of reach of the kill of the script: stop it by port
                stop(port);
                throw e;
            }
            if (r.code() == 0 && r.stdout().strip().startsWith("http://")) {
                String url = r.stdout().strip().lines().reduce((a, b) -> b).orElseThrow();
                Started.Handle handle = Started.register("server-" + port, String.valueOf(port), () -> stop(port));
                return new Server(version, port, url, handle);
            }
            // prefect-ref may have left a half-started server behind
            stop(port);
            failure = "prefect-ref start --version " + version + " --port " + port + " exited " + r.code() + ": " + r.stderr().strip();
        }
        throw new IOException(failure);
    }

    private static void stop(int port) {
        try {
            Commands.Result r = Commands.exec(command("stop", "--port", String.valueOf(port)), Map.of(), 60);
            if (r.code() != 0) {
                System.err.println("[worker-it] prefect-ref stop --port " + port + " exited " + r.code() + ": " + r.stderr().strip());
            }
        } catch (IOException e) {
            System.err.println("[worker-it] prefect-ref stop --port " + port + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Runs Prefect's own CLI of {@code version} against {@code apiUrl}; throws with its output unless it exits 0. */
    static String prefect(String version, String apiUrl, String... args) throws IOException, InterruptedException {
        List<String> cmd = command("run", "--version", version, "prefect");
        cmd.addAll(List.of(args));
        Commands.Result r = Commands.exec(cmd, Map.of("PREFECT_API_URL", apiUrl), 180);
        if (r.code() != 0) {
            throw new IOException(String.join(" ", cmd) + " exited " + r.code() + ":\n" + r.stdout() + r.stderr());
        }
        return r.stdout();
    }

    /** Imports the bundle as a Docker image into the engine at {@code dockerHost} (a no-op when it is there). */
    static String image(String dockerHost) throws IOException, InterruptedException {
        Commands.Result r = Commands.exec(command("image"), Map.of("DOCKER_HOST", dockerHost), 600);
        if (r.code() != 0) {
            throw new IOException("prefect-ref image exited " + r.code() + ": " + r.stderr().strip());
        }
        return r.stdout().strip();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
