package io.pworker.process;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
    /** Larger than any stat line: 52 numeric fields and a command name of at most 64 bytes. */
    private static final int STAT_BUFFER = 1024;

    /** Whether this machine has a {@code /proc} to read (Linux); without it, identities stay pid-only. */
    static boolean available() {
        return Files.isReadable(PROC.resolve("self/stat"));
    }

    /**
     * The process as it is now; empty when no process has that pid (or {@code /proc} cannot say). Cheap on purpose:
     * the {@link ExitPoller} reads this for every watched run twice a second, and garbage made at that pace would
     * push the young generation of the worker's small heap into the old one. One small buffer, no strings.
     */
    static Optional<ProcStat> read(long pid) {
        byte[] buf = new byte[STAT_BUFFER];
        int n;
        try (InputStream in = new FileInputStream("/proc/" + pid + "/stat")) {
            n = in.readNBytes(buf, 0, buf.length);
            if (n == buf.length) {
                // a line this long cannot be stat's, unless a future kernel adds many fields: read it whole
                byte[] rest = in.readAllBytes();
                buf = Arrays.copyOf(buf, n + rest.length);
                System.arraycopy(rest, 0, buf, n, rest.length);
                n = buf.length;
            }
        } catch (IOException e) {
            return Optional.empty();
        }
        return parse(pid, buf, n);
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
        byte[] bytes = line.getBytes(StandardCharsets.UTF_8);
        return parse(pid, bytes, bytes.length);
    }

    /**
     * Fields 3 (state), 5 (process group) and 22 (start time) of a stat line. Field 2 is the command name in
     * parentheses and may itself contain spaces and ')': the fields are counted from after the last ')'.
     */
    static Optional<ProcStat> parse(long pid, byte[] line, int length) {
        int end = length - 1;
        while (end >= 0 && line[end] != ')') {
            end--;
        }
        if (end < 0) {
            return Optional.empty();
        }
        char state = 0;
        long group = -1;
        long start = -1;
        int field = 2;
        int i = end + 1;
        while (i < length && start < 0) {
            while (i < length && line[i] == ' ') {
                i++;
            }
            int from = i;
            while (i < length && line[i] != ' ' && line[i] != '\n') {
                i++;
            }
            if (i == from) {
                break;
            }
            field++;
            if (field == 3) {
                state = (char) line[from];
            } else if (field == 5) {
                group = number(line, from, i);
            } else if (field == 22) {
                start = number(line, from, i);
                if (start < 0) {
                    return Optional.empty();
                }
            }
        }
        if (state == 0 || group < 0 || start < 0) {
            return Optional.empty();
        }
        return Optional.of(new ProcStat(pid, state, group, start));
    }

    /** The decimal number in {@code line[from, to)}, or -1 when it is not one. */
    private static long number(byte[] line, int from, int to) {
        if (to - from > 18) {
            return -1;
        }
        long n = 0;
        for (int i = from; i < to; i++) {
            int d = line[i] - '0';
            if (d < 0 || d > 9) {
                return -1;
            }
            n = n * 10 + d;
        }
        return n;
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
