package io.pworker.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.pworker.testkit.FakePrefectServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input through the real entry point ({@link Main#execute}, as {@code bin/pworker} runs it): one line on stderr
 * that names the cause, no stack trace, exit 2 for usage and configuration errors and 1 for a server that cannot
 * be worked with.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class StartCommandTest {

    @TempDir
    Path home;
    private final Map<String, String> env = new HashMap<>();

    @BeforeEach
    void isolateFromTheMachinesProfile() {
        env.put("HOME", home.toString());
        env.put("PREFECT_HOME", home.resolve(".prefect").toString());
        // nothing listens there: a test that got as far as the network would fail fast, not hang
        env.put("PREFECT_API_URL", "http://127.0.0.1:9/api");
    }

    private record Outcome(int code, List<String> errLines, String out) {
    }

    private Outcome run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(args, env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Outcome(code, err.toString(StandardCharsets.UTF_8).lines().toList(), out.toString(StandardCharsets.UTF_8));
    }

    /** Exit code {@code code} and exactly one line on stderr, which contains every one of {@code words}. */
    private void refused(Outcome o, int code, String... words) {
        assertThat(o.errLines()).as("stderr").hasSize(1);
        String line = o.errLines().getFirst();
        assertThat(line).startsWith("Error: ").doesNotContain("Exception").doesNotContain("\tat ");
        for (String w : words) {
            assertThat(line).contains(w);
        }
        assertThat(o.code()).as("exit code for: " + line).isEqualTo(code);
    }

    @Test
    void aHealthPortOutOfRangeIsAConfigurationError() {
        env.put("PREFECT_WORKER_WEBSERVER_PORT", "99999");
        refused(run("start", "--pool", "p", "--with-healthcheck"), 2,
                "PREFECT_WORKER_WEBSERVER_PORT must be a port number from 0 to 65535, got '99999'");
    }

    @Test
    void aMissingCaBundleForAnHttpsApiIsAConfigurationError() {
        env.put("PREFECT_API_URL", "https://127.0.0.1:9/api");
        env.put("PREFECT_API_SSL_CERT_FILE", "/nonexistent");
        refused(run("start", "--pool", "p"), 2, "PREFECT_API_SSL_CERT_FILE names /nonexistent, which does not exist");
    }

    @Test
    void anApiAnsweringSomethingThatIsNotJsonIsOneClearLine() {
        try (FakePrefectServer prefect = FakePrefectServer.start()) {
            env.put("PREFECT_API_URL", prefect.apiUrl());
            prefect.answerNext("GET", "/work_pools/p", 200, "text/html", "<html><body>Sign in</body></html>", 10);
            refused(run("start", "--pool", "p"), 1, "GET /work_pools/p", "answered 200 with a body that is not JSON",
                    "<html>");
            prefect.answerNext("GET", "/work_pools/q", 200, "application/json", "[1, 2]", 10);
            refused(run("start", "--pool", "q"), 1, "GET /work_pools/q", "JSON of the wrong shape",
                    "expected an object, got an array");
            assertThat(prefect.requests()).noneMatch(r -> !r.method().equals("GET"));
        }
    }

    @Test
    void aBaseJobTemplateFileThatCannotBeUsedSaysWhy() throws Exception {
        refused(run("start", "--pool", "p", "--base-job-template", "/nonexistent.json"), 2,
                "--base-job-template /nonexistent.json", "does not exist");
        Path notJson = Files.writeString(home.resolve("t.json"), "{\"job_configuration\": {\n  oops");
        refused(run("start", "--pool", "p", "--base-job-template", notJson.toString()), 2,
                "not valid JSON at line 2");
        Path list = Files.writeString(home.resolve("list.json"), "[]");
        refused(run("start", "--pool", "p", "--base-job-template", list.toString()), 2,
                "expected a JSON object with 'job_configuration' and 'variables' objects");
        Path empty = Files.writeString(home.resolve("empty.json"), "");
        refused(run("start", "--pool", "p", "--base-job-template", empty.toString()), 2, "the file is empty");
        refused(run("start", "--pool", "p", "--base-job-template", home.toString()), 2, "is a directory");
    }

    @Test
    void negativePrefetchIsRefusedFromTheFlagAndFromTheEnvironment() {
        refused(run("start", "--pool", "p", "--prefetch-seconds", "-1"), 2, "--prefetch-seconds must not be negative");
        env.put("PREFECT_WORKER_PREFETCH_SECONDS", "-1");
        refused(run("start", "--pool", "p"), 2, "PREFECT_WORKER_PREFETCH_SECONDS must be a non-negative number");
    }

    @Test
    void anUnknownLoggingLevelIsRefusedNamingTheAllowedOnesFromTheEnvironmentOrTheProfile() throws Exception {
        env.put("PREFECT_LOGGING_LEVEL", "LOUD");
        refused(run("start", "--pool", "p"), 2, "PREFECT_LOGGING_LEVEL", "DEBUG, INFO, WARNING, ERROR, CRITICAL", "'LOUD'");
        env.remove("PREFECT_LOGGING_LEVEL");
        Path prefectHome = Files.createDirectories(home.resolve(".prefect"));
        Files.writeString(prefectHome.resolve("profiles.toml"), "active = \"x\"\n[profiles.x]\nPREFECT_LOGGING_LEVEL = \"chatty\"\n");
        refused(run("start", "--pool", "p"), 2, "PREFECT_LOGGING_LEVEL", "'chatty'");
    }

    @Test
    void pworkersOwnSettingsAreCheckedToo() {
        env.put("PWORKER_KILL_GRACE_SECONDS", "soon");
        refused(run("start", "--pool", "p"), 2, "PWORKER_KILL_GRACE_SECONDS must be a non-negative number, got 'soon'");
    }

    @Test
    void flagsTheWorkerWouldRefuseAreUsageErrors() {
        refused(run("start", "--pool", "p", "--limit", "0"), 2, "--limit must be at least 1, got 0");
        refused(run("start", "--pool", "p", "--name", "a/b"), 2, "--name 'a/b'");
        refused(run("start", "--pool", "p", "--type", "kubernetes"), 2, "type 'kubernetes' is not served");
        refused(run("start", "--pool", " "), 2, "--pool must not be empty");
    }

    @Test
    void picocliUsageErrorsAreOneLineAndExitTwo() {
        refused(run("start"), 2, "Missing required option", "--pool", "see 'pworker start --help'");
        refused(run("start", "--pool", "p", "--bogus"), 2, "Unknown option: '--bogus'");
        refused(run("start", "--pool", "p", "--limit", "many"), 2, "'many' is not an int");
        refused(run("strat"), 2, "did you mean start?");
    }

    @Test
    void helpAndVersionStillWork() {
        Outcome help = run("start", "--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("--base-job-template");
        Outcome version = run("--version");
        assertThat(version.code()).isZero();
        assertThat(version.out()).contains("Prefect worker contract 3.4.25");
    }
}
