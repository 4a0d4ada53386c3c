package io.pworker.state;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.pworker.spi.RunHandle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

@Timeout(10)
class RunStoreTest {

    private static final String RUN = "0b6f2c1e-5d1a-4f7e-9c3b-2a1d0e9f8c7b";

    @TempDir
    Path dir;
    private final ListAppender<ILoggingEvent> warnings = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(RunStore.class);

    @BeforeEach
    void capture() {
        warnings.start();
        logger.addAppender(warnings);
    }

    @AfterEach
    void release() {
        logger.detachAppender(warnings);
    }

    private static RunRecord claimed() {
        return RunRecord.claimed("docker", RUN, "pool", "pool-id", "w1", Instant.parse("2026-11-23T10:00:00Z"));
    }

    @Test
    void aRecordGoesThroughItsStagesAndLeavesNothingHalfWritten() throws Exception {
        RunStore store = RunStore.open(dir);
        try (Lease lease = store.lease(RUN).orElseThrow()) {
            lease.write(claimed());
            lease.write(claimed().launching());
            lease.write(claimed().launching().launched(new RunHandle("http+docker://localhost:abc",
                    Map.of("container_id", "abc")), Instant.parse("2026-11-23T10:00:05Z")));
        }
        assertThat(store.scan()).singleElement().satisfies(r -> {
            assertThat(r.stage()).isEqualTo(RunRecord.Stage.LAUNCHED);
            assertThat(r.handle()).isEqualTo(new RunHandle("http+docker://localhost:abc", Map.of("container_id", "abc")));
            assertThat(r.workPoolId()).isEqualTo("pool-id");
        });
        String text = Files.readString(dir.resolve("runs").resolve(RUN + ".json"));
        assertThat(text).contains("\"stage\" : \"launched\"").contains("\"launched_at\" : \"2026-11-23T10:00:05Z\"")
                .doesNotContain("configuration").doesNotContain("env");
        try (Stream<Path> files = Files.list(dir.resolve("runs"))) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
        }
    }

    @Test
    void oneHolderAtATimeAndDeleteRemovesEverything() throws Exception {
        RunStore store = RunStore.open(dir);
        Lease first = store.lease(RUN).orElseThrow();
        first.write(claimed());
        assertThat(store.lease(RUN)).isEmpty();
        first.close();
        Lease second = store.lease(RUN).orElseThrow();
        assertThat(store.read(RUN)).isPresent();
        second.delete();
        assertThat(store.scan()).isEmpty();
        try (Stream<Path> files = Files.list(dir.resolve("runs"))) {
            assertThat(files).isEmpty();
        }
    }

    @Test
    void strangeFilesAreWarnedAboutOnceByNameAndIgnored() throws Exception {
        RunStore store = RunStore.open(dir);
        try (Lease lease = store.lease(RUN).orElseThrow()) {
            lease.write(claimed());
        }
        Path runs = dir.resolve("runs");
        Files.writeString(runs.resolve("11111111-1111-1111-1111-111111111111.json"), "{not json");
        Files.writeString(runs.resolve("22222222-2222-2222-2222-222222222222.json"),
                "{\"version\": 9, \"type\": \"docker\"}");
        Files.writeString(runs.resolve("33333333-3333-3333-3333-333333333333.json"),
                Files.readString(runs.resolve(RUN + ".json")));
        Files.writeString(runs.resolve("notes.txt"), "hello");
        Files.createDirectory(runs.resolve("somebody-elses-dir"));

        assertThat(store.scan()).extracting(RunRecord::flowRunId).containsExactly(RUN);
        assertThat(store.scan()).hasSize(1);
        assertThat(warnings.list).extracting(ILoggingEvent::getFormattedMessage)
                .hasSize(5)
                .anySatisfy(m -> assertThat(m).contains("11111111-1111-1111-1111-111111111111.json").contains("not valid JSON"))
                .anySatisfy(m -> assertThat(m).contains("22222222-2222-2222-2222-222222222222.json").contains("newer pworker"))
                .anySatisfy(m -> assertThat(m).contains("33333333-3333-3333-3333-333333333333.json").contains("names flow run " + RUN))
                .anySatisfy(m -> assertThat(m).contains("notes.txt"))
                .anySatisfy(m -> assertThat(m).contains("somebody-elses-dir"));
        assertThat(warnings.list).allSatisfy(e -> assertThat(e.getThrowableProxy()).isNull());
        assertThat(runs.resolve("notes.txt")).exists();
    }

    @Test
    void aNameThatIsNotARunIdNeverBecomesAPath() throws Exception {
        RunStore store = RunStore.open(dir);
        assertThatThrownBy(() -> store.lease("../../etc/passwd")).isInstanceOf(IOException.class);
    }

    @Test
    void theLocationFollowsPrefectHome() {
        Map<String, String> env = Map.of("HOME", "/home/u", "PREFECT_HOME", "/srv/prefect", "PWORKER_STATE_DIR", "/var/lib/pw");
        assertThat(RunStore.location(env::get)).isEqualTo(Path.of("/var/lib/pw"));
        Map<String, String> prefectHome = Map.of("HOME", "/home/u", "PREFECT_HOME", "/srv/prefect");
        assertThat(RunStore.location(prefectHome::get)).isEqualTo(Path.of("/srv/prefect/pworker/state"));
        Map<String, String> home = Map.of("HOME", "/home/u");
        assertThat(RunStore.location(home::get)).isEqualTo(Path.of("/home/u/.prefect/pworker/state"));
        assertThat(RunStore.location(k -> null)).isEqualTo(Path.of(System.getProperty("user.home"), ".prefect", "pworker", "state"));
    }
}
