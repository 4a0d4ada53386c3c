package io.pworker.process;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The plugin's files in its state directory, up to four per flow run:
 * <pre>
 *   runs/&lt;flow-run-id&gt;.json   the launch record (small JSON an operator can read), written by the launcher
 *   exit/&lt;flow-run-id&gt;        the exit code followed by a newline, written by the exit wrapper
 *   exit/&lt;flow-run-id&gt;.pid    the exit wrapper's pid followed by a newline, written by the wrapper itself
 *   out/&lt;flow-run-id&gt;.log     the run's stdout and stderr with {@code stream_output}, written by the run
 * </pre>
 * The first two are replaced by renaming a complete temporary file, so a reader never sees half of one. A flow-run
 * id that is not a plain file name (Prefect's are UUIDs) is stored under a hash of it.
 */
final class LaunchRecords {

    private static final int VERSION = 1;
    private static final Pattern PLAIN_NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}");

    private final ObjectMapper json = new ObjectMapper();
    private final Path runs;
    private final Path exits;
    private final Path outputs;

    LaunchRecords(Path stateDirectory) throws IOException {
        this.runs = Files.createDirectories(stateDirectory.resolve("runs"));
        this.exits = Files.createDirectories(stateDirectory.resolve("exit"));
        this.outputs = Files.createDirectories(stateDirectory.resolve("out"));
    }

    /** Where the run writes its output with {@code stream_output}. */
    Path outputFile(String flowRunId) {
        return outputs.resolve(fileName(flowRunId) + ".log");
    }

    /** Where the exit wrapper writes the run's exit code. */
    Path exitFile(String flowRunId) {
        return exits.resolve(fileName(flowRunId));
    }

    /**
     * Notes in the run's record that a worker asked the process to stop. Does nothing once the record is gone:
     * a kill that overlaps a release must not bring the record back.
     */
    synchronized void markKillRequested(String flowRunId) throws IOException {
        Optional<LaunchRecord> r = read(flowRunId);
        if (r.isPresent() && !r.get().killRequested()) {
            write(r.get().withKillRequested());
        }
    }

    /** Notes in the run's record that a worker is about to send SIGKILL; like {@link #markKillRequested}. */
    synchronized void markKillSent(String flowRunId) throws IOException {
        Optional<LaunchRecord> r = read(flowRunId);
        if (r.isPresent() && !r.get().killSent()) {
            write(r.get().withKillSent());
        }
    }

    /** Notes how far the run's output was copied; like {@link #markKillRequested}, never brings a record back. */
    synchronized void saveOutputPosition(String flowRunId, long position) throws IOException {
        Optional<LaunchRecord> r = read(flowRunId);
        if (r.isPresent() && r.get().outputPosition() != position) {
            write(r.get().withOutputPosition(position));
        }
    }

    synchronized void write(LaunchRecord r) throws IOException {
        ObjectNode n = json.createObjectNode();
        n.put("version", VERSION);
        n.put("flow_run_id", r.flowRunId());
        if (r.starting()) {
            // null until the process runs: a worker that finds it so looks for the process in /proc
            n.putNull("pid");
        } else {
            n.put("pid", r.identity().pid());
            n.put("start_ticks", r.identity().startTicks());
            n.put("boot_id", r.identity().bootId());
        }
        n.put("records_exit_code", r.recordsExitCode());
        n.put("temp_dir", r.tempDir());
        n.put("worker_name", r.workerName());
        n.put("work_pool_id", r.workPoolId());
        n.put("work_pool_name", r.workPoolName());
        n.put("kill_requested", r.killRequested());
        n.put("kill_sent", r.killSent());
        n.put("output_name", r.outputName());
        n.put("output_position", r.outputPosition());
        Path file = recordFile(r.flowRunId());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, json.writerWithDefaultPrettyPrinter().writeValueAsString(n) + "\n", StandardCharsets.UTF_8);
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The record of the run's process; empty while it is only being started. */
    Optional<LaunchRecord> read(String flowRunId) {
        return readAny(flowRunId).filter(r -> !r.starting());
    }

    /** The run's record, also when it is still {@linkplain LaunchRecord#starting() starting}. */
    Optional<LaunchRecord> readAny(String flowRunId) {
        return read(recordFile(flowRunId));
    }

    /** Every record of a started process (in no order); unreadable ones are skipped. */
    List<LaunchRecord> all() {
        return list(false);
    }

    /** Every record of a launch whose process was not noted, as it is left by a worker that crashed meanwhile. */
    List<LaunchRecord> allStarting() {
        return list(true);
    }

    private List<LaunchRecord> list(boolean starting) {
        List<LaunchRecord> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(runs)) {
            files.filter(p -> p.getFileName().toString().endsWith(".json"))
                    .forEach(p -> read(p).filter(r -> r.starting() == starting).ifPresent(out::add));
        } catch (IOException e) {
            // no directory, no records
        }
        return out;
    }

    /** The run's recorded exit code, if the wrapper wrote one. */
    OptionalInt exitCode(String flowRunId) {
        try {
            String text = Files.readString(exitFile(flowRunId), StandardCharsets.UTF_8).trim();
            return OptionalInt.of(Integer.parseInt(text));
        } catch (IOException | NumberFormatException e) {
            return OptionalInt.empty();
        }
    }

    /** Removes the exit code and output left from an earlier launch of the same flow run. */
    void forgetOutcome(String flowRunId) {
        Path exit = exitFile(flowRunId);
        deleteQuietly(exit);
        deleteQuietly(exit.resolveSibling(exit.getFileName() + ".tmp"));
        deleteQuietly(ExitWrapper.pidFile(exit));
        deleteQuietly(outputFile(flowRunId));
    }

    /** Removes everything kept for the run. */
    synchronized void forget(String flowRunId) {
        forgetOutcome(flowRunId);
        deleteQuietly(recordFile(flowRunId));
    }

    private Optional<LaunchRecord> read(Path file) {
        JsonNode n;
        try {
            n = json.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return Optional.empty();
        }
        if (n == null || n.path("version").asInt() != VERSION || n.path("flow_run_id").asText("").isEmpty()
                || !(n.path("pid").canConvertToLong() || n.path("pid").isNull())) {
            return Optional.empty();
        }
        JsonNode start = n.path("start_ticks");
        ProcessIdentity identity = n.path("pid").isNull() ? null : new ProcessIdentity(n.path("pid").asLong(),
                start.canConvertToLong() ? start.asLong() : null, textOrNull(n, "boot_id"));
        return Optional.of(new LaunchRecord(n.path("flow_run_id").asText(), identity,
                n.path("records_exit_code").asBoolean(), textOrNull(n, "temp_dir"), textOrNull(n, "worker_name"),
                textOrNull(n, "work_pool_id"), textOrNull(n, "work_pool_name"), n.path("kill_requested").asBoolean(),
                n.path("kill_sent").asBoolean(), textOrNull(n, "output_name"),
                Math.max(0, n.path("output_position").asLong())));
    }

    private Path recordFile(String flowRunId) {
        return runs.resolve(fileName(flowRunId) + ".json");
    }

    private static String textOrNull(JsonNode n, String key) {
        JsonNode v = n.path(key);
        return v.isTextual() ? v.asText() : null;
    }

    private static String fileName(String flowRunId) {
        if (PLAIN_NAME.matcher(flowRunId).matches()) {
            return flowRunId;
        }
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(flowRunId.getBytes(StandardCharsets.UTF_8));
            return "sha256-" + HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // a file left behind is overwritten by the next launch of the run, or removed by hand
        }
    }
}
