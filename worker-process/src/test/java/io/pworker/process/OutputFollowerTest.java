package io.pworker.process;

import static io.pworker.process.ProcessTests.waitFor;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The follower against files the test appends to itself, the way a flow run does ({@code O_APPEND}), so that
 * what is written when is in the test's hands.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class OutputFollowerTest {

    @TempDir
    Path dir;
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    private final Map<String, Long> saved = new ConcurrentHashMap<>();
    private final List<FileOutputStream> writers = new ArrayList<>();
    private OutputFollower follower;

    @AfterEach
    void close() throws IOException {
        if (follower != null) {
            follower.close();
        }
        for (FileOutputStream w : writers) {
            w.close();
        }
    }

    private OutputFollower follower(Duration saveEvery, long truncateAbove) {
        follower = new OutputFollower(new PrintStream(console, true, StandardCharsets.UTF_8), Duration.ofMillis(20),
                saveEvery, truncateAbove, saved::put);
        return follower;
    }

    private FileOutputStream writer(Path file) throws IOException {
        FileOutputStream w = new FileOutputStream(file.toFile(), true);
        writers.add(w);
        return w;
    }

    private static void write(FileOutputStream w, String text) throws IOException {
        w.write(text.getBytes(StandardCharsets.UTF_8));
    }

    private List<String> printed() {
        return console.toString(StandardCharsets.UTF_8).lines().toList();
    }

    @Test
    void newLinesAreCopiedWithThePrefixAndTheUnfinishedOneWhenTheRunIsFinished() throws Exception {
        Path file = dir.resolve("run.log");
        FileOutputStream w = writer(file);
        follower(Duration.ZERO, Long.MAX_VALUE).follow("run", file, "[r] ", 0);
        write(w, "a\nb\npar");
        waitFor("two lines copied", () -> printed().size() == 2);
        waitFor("the position before the unfinished line saved", () -> saved.getOrDefault("run", -1L) == 4);
        write(w, "tial");
        follower.finish("run").get(10, TimeUnit.SECONDS);
        assertThat(printed()).containsExactly("[r] a", "[r] b", "[r] partial");
        assertThat(saved).containsEntry("run", 11L);
        write(w, "more\n");
        Thread.sleep(100);
        assertThat(printed()).as("a finished run is no longer followed").hasSize(3);
    }

    @Test
    void aResumedRunIsCopiedFromItsSavedPositionOrFromTheStartOfAnEmptiedFile() throws Exception {
        Path resumed = dir.resolve("resumed.log");
        Files.writeString(resumed, "copied before\nnew\n");
        Path emptied = dir.resolve("emptied.log");
        Files.writeString(emptied, "after emptying\n");
        follower(Duration.ZERO, Long.MAX_VALUE).follow("resumed", resumed, "[a] ", 14);
        follower.follow("emptied", emptied, "[b] ", 4000);
        follower.finish("resumed").get(10, TimeUnit.SECONDS);
        follower.finish("emptied").get(10, TimeUnit.SECONDS);
        assertThat(printed()).containsExactlyInAnyOrder("[a] new", "[b] after emptying");
    }

    @Test
    void aLargeFileIsEmptiedOnceCopiedAndTheRunsNextWritesLandAtItsStart() throws Exception {
        Path file = dir.resolve("big.log");
        FileOutputStream w = writer(file);
        follower(Duration.ofHours(1), 1024).follow("big", file, "", 0);
        List<String> lines = IntStream.range(0, 300).mapToObj(i -> "line " + i).toList();
        write(w, String.join("\n", lines) + "\nhal");
        // position 0 is saved, unless the file was emptied in the very pass that first read it: 0 was saved then
        waitFor("the file emptied", () -> file.toFile().length() == 0 && saved.getOrDefault("big", 0L) == 0);
        write(w, "f\nend\n");
        waitFor("the rest copied", () -> printed().contains("end"));
        assertThat(printed()).containsSequence(lines).endsWith("half", "end");
        assertThat(printed()).hasSize(302);
        assertThat(file.toFile().length()).isEqualTo(6);
    }

    @Test
    void positionsAreSavedAtMostEveryIntervalAndAllOfThemOnClose() throws Exception {
        Path file = dir.resolve("run.log");
        FileOutputStream w = writer(file);
        follower(Duration.ofHours(1), Long.MAX_VALUE).follow("run", file, "", 0);
        write(w, "a\n");
        waitFor("the first change saved at once", () -> saved.getOrDefault("run", -1L) == 2);
        write(w, "b\n");
        waitFor("copied", () -> printed().contains("b"));
        assertThat(saved).containsEntry("run", 2L);
        write(w, "c\n");
        follower.close();
        assertThat(printed()).containsExactly("a", "b", "c");
        assertThat(saved).containsEntry("run", 6L);
        assertThat(follower.finish("run")).as("commands after close are not run").isDone();
    }

    @Test
    void aStoppedRunIsNotCopiedAnyMore() throws Exception {
        Path file = dir.resolve("run.log");
        FileOutputStream w = writer(file);
        follower(Duration.ZERO, Long.MAX_VALUE).follow("run", file, "", 0);
        write(w, "a\n");
        waitFor("copied", () -> printed().contains("a"));
        follower.stop("run").get(10, TimeUnit.SECONDS);
        write(w, "b\n");
        follower.finish("run").get(10, TimeUnit.SECONDS);
        assertThat(printed()).containsExactly("a");
    }
}
