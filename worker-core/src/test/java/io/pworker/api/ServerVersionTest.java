package io.pworker.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.api.ServerVersion.Compatibility;
import io.pworker.worker.Worker;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ServerVersionTest {

    private static final PrefectVersion FOLLOWED = PrefectVersion.of(Worker.PREFECT_VERSION);

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"3.4.25, 3.4.25", "3.8.3.dev6, 3.8.3", "3.5, 3.5.0", "v3.7.1rc2, 3.7.1", "2.20.16+g12ab, 2.20.16"})
    void versionsAreReadWithoutTheirSuffixes(String text, String expected) {
        assertThat(PrefectVersion.parse(text)).map(PrefectVersion::toString).contains(expected);
    }

    @Test
    void textThatIsNoVersionIsNotOne() {
        assertThat(PrefectVersion.parse("unknown")).isEmpty();
        assertThat(PrefectVersion.parse("")).isEmpty();
        assertThat(PrefectVersion.parse(null)).isEmpty();
    }

    @ParameterizedTest(name = "server {0} against 3.4.25: {1}")
    @CsvSource({"3.4.25, SAME_MINOR", "3.4.0, SAME_MINOR", "3.4.99, SAME_MINOR", "3.3.7, OLDER_MINOR",
            "3.8.3, NEWER_MINOR", "2.20.16, OTHER_MAJOR", "4.0.0, OTHER_MAJOR"})
    void theServerIsComparedWithTheReleasePworkerFollows(String server, Compatibility expected) {
        assertThat(ServerVersion.compare(PrefectVersion.of(server), PrefectVersion.of("3.4.25"))).isEqualTo(expected);
        assertThat(ServerVersion.compare(null, FOLLOWED)).isEqualTo(Compatibility.UNKNOWN);
    }

    @ParameterizedTest(name = "{0}: auth on /events/in = {1}")
    @CsvSource({"3.4.25, false", "3.6.99, false", "3.7.0, true", "3.7.0.dev1, true", "3.8.3, true"})
    void onlyServersFrom370WantTheEventsInHandshake(String server, boolean handshake) {
        assertThat(new ServerVersion(PrefectVersion.of(server), FOLLOWED).eventsInHandshake()).contains(handshake);
        assertThat(ServerVersion.unknown(FOLLOWED).eventsInHandshake()).isEmpty();
    }

    @Test
    void theMessagesNameBothVersions() {
        PrefectVersion followed = PrefectVersion.of("3.4.25");
        assertThat(new ServerVersion(PrefectVersion.of("3.8.3"), followed).describe("http://h/api"))
                .hasValueSatisfying(m -> assertThat(m).contains("3.8.3").contains("3.4.25").contains("newer"));
        assertThat(new ServerVersion(PrefectVersion.of("3.2.0"), followed).describe("http://h/api"))
                .hasValueSatisfying(m -> assertThat(m).contains("3.2.0").contains("3.4.25").contains("older"));
        assertThat(new ServerVersion(PrefectVersion.of("2.20.16"), followed).describe("http://h/api"))
                .hasValueSatisfying(m -> assertThat(m).contains("2.20.16").contains("3.4.25").contains("http://h/api"));
        assertThat(new ServerVersion(PrefectVersion.of("3.4.1"), followed).describe("http://h/api")).isEmpty();
    }
}
