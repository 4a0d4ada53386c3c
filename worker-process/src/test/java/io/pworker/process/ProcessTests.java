package io.pworker.process;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Helpers for tests that run real processes. Processes are only ever signalled by pid or group id. */
final class ProcessTests {

    private ProcessTests() {
    }

    /** {@code s} as one POSIX shell word. */
    static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /** SIGKILL to the process group {@code pid} leads, as an operator would do from outside the worker. */
    static void killGroup(long pid) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("kill", "-s", "KILL", "--", "-" + pid).inheritIO().start();
        p.waitFor(5, TimeUnit.SECONDS);
    }

    /** SIGKILL to one process. */
    static void killPid(long pid) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }

    static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)
                && ProcStat.read(pid).map(ProcStat::running).orElse(true);
    }

    static String read(Path p) {
        try {
            return Files.readString(p).trim();
        } catch (IOException e) {
            return "";
        }
    }

    static void waitFor(String what, BooleanSupplier condition) throws InterruptedException {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(20));
        while (!condition.getAsBoolean()) {
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError(what + ": not within 20 s");
            }
            Thread.sleep(20);
        }
    }
}
