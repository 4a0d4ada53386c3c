package io.pworker.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything these tests start that would outlive them (servers, workers, a Docker engine), stopped by the test
 * that started it, or else by a JVM shutdown hook. Each also leaves a marker file under
 * {@code target/it/running/} while it runs, so that {@code .ci/run} can stop it even when the JVM was killed
 * (a hook does not run on SIGKILL): {@code server-<port>} for a prefect-ref server, {@code pid-<pid>} holding
 * a piece of the process's command line, so a reused pid is never killed by mistake.
 */
final class Started {

    private static final Map<Handle, Boolean> LIVE = new LinkedHashMap<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(Started::stopAll, "worker-it-cleanup"));
    }

    private Started() {
    }

    static Path dir() {
        return Path.of(System.getProperty("pworker.itDir", "target/it")).toAbsolutePath();
    }

    /** One started thing; {@link #close()} stops it once and forgets it. */
    static final class Handle implements AutoCloseable {
        private final Path marker;
        private final Runnable stop;
        private boolean closed;

        private Handle(Path marker, Runnable stop) {
            this.marker = marker;
            this.stop = stop;
        }

        @Override
        public void close() {
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
            }
            try {
                stop.run();
            } finally {
                synchronized (Started.class) {
                    LIVE.remove(this);
                }
                try {
                    Files.deleteIfExists(marker);
                } catch (IOException ignored) {
                    // the marker only helps .ci/run; a stale one is checked there before it is acted on
                }
            }
        }
    }

    static synchronized Handle register(String markerName, String markerContent, Runnable stop) {
        try {
            Path marker = Files.createDirectories(dir().resolve("running")).resolve(markerName);
            Files.writeString(marker, markerContent);
            Handle h = new Handle(marker, stop);
            LIVE.put(h, true);
            return h;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void stopAll() {
        List<Handle> handles;
        synchronized (Started.class) {
            handles = new ArrayList<>(LIVE.keySet());
        }
        // newest first: workers before the servers they talk to
        for (int i = handles.size() - 1; i >= 0; i--) {
            try {
                handles.get(i).close();
            } catch (RuntimeException e) {
                System.err.println("[worker-it] cleanup at exit failed: " + e);
            }
        }
    }
}
