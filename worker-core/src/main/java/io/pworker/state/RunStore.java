package io.pworker.state;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's state directory: one small JSON file per flow run in flight ({@code runs/<flow-run id>.json}) and a
 * directory per plugin ({@code plugins/<type>/}). A record is written before the infrastructure id is reported to
 * Prefect and deleted once the run's end has been reported, so a worker started after a crash finds every run
 * the crashed one was responsible for.
 *
 * <p>Ownership of a record is a lock on {@code runs/<id>.lock} held by the worker process that supervises the run
 * ({@link Lease}). Two worker processes may therefore share a state directory: each run is supervised by exactly
 * one of them, and when one dies the operating system drops its locks so that another can take its runs over.
 * The lock lives in its own file because POSIX drops a process's lock on a file whenever that process closes any
 * descriptor of it, which reading the record would do.
 */
public final class RunStore {

    private static final Logger log = LoggerFactory.getLogger(RunStore.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Flow-run ids are UUIDs; anything else in a file name is not ours and must not become a path. */
    private static final Pattern RUN_ID = Pattern.compile("[0-9A-Za-z][0-9A-Za-z-]{0,63}");

    private final Path root;
    private final Path runs;
    private final Set<String> warned = ConcurrentHashMap.newKeySet();

    private RunStore(Path root) {
        this.root = root;
        this.runs = root.resolve("runs");
    }

    /** Opens (creating it when missing) the state directory at {@code root}. */
    public static RunStore open(Path root) throws IOException {
        RunStore store = new RunStore(root);
        Files.createDirectories(store.runs);
        if (!Files.isWritable(store.runs)) {
            throw new IOException(store.runs + " is not writable");
        }
        return store;
    }

    /**
     * Where the state directory is: {@code PWORKER_STATE_DIR}, else {@code $PREFECT_HOME/pworker/state} with
     * {@code PREFECT_HOME} defaulting to {@code ~/.prefect} as Prefect's own does.
     *
     * @param setting looks a name up in the worker's environment (then its settings)
     */
    public static Path location(Function<String, String> setting) {
        String explicit = setting.apply("PWORKER_STATE_DIR");
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit);
        }
        String prefectHome = setting.apply("PREFECT_HOME");
        if (prefectHome == null || prefectHome.isBlank()) {
            String home = setting.apply("HOME");
            prefectHome = (home == null || home.isBlank() ? System.getProperty("user.home") : home) + "/.prefect";
        }
        return Path.of(prefectHome, "pworker", "state");
    }

    public Path root() {
        return root;
    }

    /** The plugin's own directory, {@code plugins/<type>}, created when missing. */
    public Path pluginDirectory(String type) throws IOException {
        return Files.createDirectories(root.resolve("plugins").resolve(type));
    }

    /**
     * Takes the run's record for this worker process: empty when another worker process (or another worker in
     * this one) holds it.
     */
    public Optional<Lease> lease(String flowRunId) throws IOException {
        if (!RUN_ID.matcher(flowRunId).matches()) {
            throw new IOException("'" + flowRunId + "' is not a flow run id");
        }
        FileChannel channel = FileChannel.open(runs.resolve(flowRunId + ".lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            // another worker in this JVM supervises it (tests do that); closing our descriptor drops the lock
            // for other processes, which only matters when yet another process shares the directory
            lock = null;
        } catch (IOException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            return Optional.empty();
        }
        return Optional.of(new Lease(this, flowRunId, channel, lock));
    }

    /**
     * Every record in the directory. A file that is not a record (corrupt, written by a newer release, or
     * something else put there) is warned about once by name and left where it is.
     */
    public List<RunRecord> scan() {
        List<RunRecord> out = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(runs)) {
            for (Path file : files) {
                String name = file.getFileName().toString();
                if (name.endsWith(".lock") || name.endsWith(".json.tmp")) {
                    continue;
                }
                if (!name.endsWith(".json") || !RUN_ID.matcher(name.substring(0, name.length() - 5)).matches()) {
                    warnOnce(name, "it is not a pworker run record");
                    continue;
                }
                try {
                    RunRecord r = RunRecord.fromJson(JSON.readTree(Files.readAllBytes(file)));
                    if (!name.equals(r.flowRunId() + ".json")) {
                        throw new IllegalArgumentException("it names flow run " + r.flowRunId());
                    }
                    out.add(r);
                } catch (java.nio.file.NoSuchFileException e) {
                    // reported and deleted by its supervisor meanwhile
                } catch (IOException | IllegalArgumentException e) {
                    warnOnce(name, e instanceof com.fasterxml.jackson.core.JsonProcessingException j
                            ? "it is not valid JSON (" + j.getOriginalMessage().replaceAll("(?s)\\s*\\(start marker.*|\\n.*", "")
                            + ")" : e.getMessage());
                }
            }
        } catch (IOException e) {
            log.warn("Cannot read the state directory {}: {}", runs, e.getMessage());
        }
        return out;
    }

    /** The run's record, when there is one and it can be read. */
    public Optional<RunRecord> read(String flowRunId) {
        try {
            return Optional.of(RunRecord.fromJson(JSON.readTree(Files.readAllBytes(runs.resolve(flowRunId + ".json")))));
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private void warnOnce(String name, String why) {
        if (warned.add(name)) {
            log.warn("Ignoring {} in the state directory {}: {}", name, runs, why);
        }
    }

    /** The record file and its lock, written by one owner at a time. */
    void write(String flowRunId, RunRecord record) throws IOException {
        Path target = runs.resolve(flowRunId + ".json");
        Path temp = runs.resolve(flowRunId + ".json.tmp");
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(record.toJson());
        try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buffer = ByteBuffer.wrap(bytes);
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
            out.force(true);
        }
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        syncDirectory();
    }

    void delete(String flowRunId) throws IOException {
        Files.deleteIfExists(runs.resolve(flowRunId + ".json"));
        Files.deleteIfExists(runs.resolve(flowRunId + ".json.tmp"));
        syncDirectory();
        Files.deleteIfExists(runs.resolve(flowRunId + ".lock"));
    }

    /** Makes a rename or deletion survive a power cut, not just a crash of the worker. */
    private void syncDirectory() {
        try (FileChannel dir = FileChannel.open(runs, StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException e) {
            // some file systems cannot sync a directory; the rename itself is still atomic
        }
    }
}
