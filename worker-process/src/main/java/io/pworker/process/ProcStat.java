package io.pworker.process;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One look at a process in {@code /proc/<pid>/stat}: what the launcher needs to tell a flow-run process from a
 * later process that was given the same pid, and whether it still leads its own process group.
 *
 * <p>The start time is field 22 as the kernel wrote it (clock ticks after boot), not the JDK's
 * {@code ProcessHandle.Info.startInstant()}: the JDK adds the boot time from {@code /proc/stat}, which each JVM
 * reads once and which moves when the wall clock is stepped, so two worker processes may disagree about the same
 * process's start instant. The raw ticks never change for the life of a process.
 *
 * @param pid          the process id
 * @param state        the state letter ({@code R}, {@code S}, {@code Z}, …)
 * @param processGroup the process group id (field 5)
 * @param startTicks   when the process started, in clock ticks after boot (field 22)
 */
record ProcStat(long pid, char state, long processGroup, long startTicks) {

    private static final Path PROC = Path.of("/proc");

    /** Whether this machine has a {@code /proc} to read (Linux); without it, identities stay pid-only. */
    static boolean available() {
        return Files.isReadable(PROC.resolve("self/stat"));
    }

    /** The process as it is now; empty when no process has that pid (or {@code /proc} cannot say). */
    static Optional<ProcStat> read(long pid) {
        String line;
        try {
            line = Files.readString(PROC.resolve(Long.toString(pid)).resolve("stat"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return Optional.empty();
        }
        return parse(pid, line);
    }

    /** The boot this machine is in, so that ticks of a previous boot are never taken for this one's; null if unknown. */
    static String bootId() {
        try {
            return Files.readString(PROC.resolve("sys/kernel/random/boot_id"), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            return null;
        }
    }

    static Optional<ProcStat> parse(long pid, String line) {
        // field 2 is the command name in parentheses and may itself contain spaces and ')': split after the last ')'
        int end = line.lastIndexOf(')');
        if (end < 0) {
            return Optional.empty();
        }
        String[] rest = line.substring(end + 1).trim().split(" ");
        // rest[0] is field 3 (state), so field n is rest[n - 3]
        if (rest.length < 20 || rest[0].isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ProcStat(pid, rest[0].charAt(0), Long.parseLong(rest[2]), Long.parseLong(rest[19])));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** A zombie has ended; only its exit status waits to be collected by its parent. */
    boolean running() {
        return state != 'Z' && state != 'X' && state != 'x';
    }

    /** True when the process is the leader of its own group, so that signalling {@code -pid} reaches what it started. */
    boolean leadsItsGroup() {
        return processGroup == pid;
    }
}
