package io.pworker.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What /proc says about a worker: its own RSS, its threads, its descendants (the flow-run processes). */
final class Procs {

    private Procs() {
    }

    /** Resident set of the process alone, in KiB; 0 when it is gone. */
    static long rssKib(long pid) {
        return statusField(pid, "VmRSS:");
    }

    static long threads(long pid) {
        return statusField(pid, "Threads:");
    }

    private static long statusField(long pid, String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("\\D", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            // the process ended
        }
        return 0;
    }

    static String comm(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/comm")).strip();
        } catch (IOException e) {
            return "";
        }
    }

    /** Every process below {@code root}. */
    static List<Long> descendants(long root) {
        return ProcessHandle.of(root).map(h -> h.descendants().map(ProcessHandle::pid).toList()).orElse(List.of());
    }

    /**
     * Every process whose environment holds {@code entry} ({@code KEY=VALUE}): what a worker started and handed to
     * init (pworker's detached runs) is no longer below it, but it inherited the worker's environment.
     */
    static List<Long> withEnvironment(String entry) {
        String needle = "\0" + entry + "\0";
        return ProcessHandle.allProcesses().map(ProcessHandle::pid).filter(pid -> {
            try {
                // NUL-separated; ISO-8859-1 maps each byte to one char, so any content reads
                String env = Files.readString(Path.of("/proc/" + pid + "/environ"), StandardCharsets.ISO_8859_1);
                return ("\0" + env).contains(needle);
            } catch (IOException | RuntimeException e) {
                return false; // gone meanwhile, or another user's
            }
        }).toList();
    }

    /** RSS of the process and everything below it, in KiB. */
    static long treeRssKib(long root) {
        long sum = rssKib(root);
        for (long p : descendants(root)) {
            sum += rssKib(p);
        }
        return sum;
    }

    static void signal(long pid, String signal) {
        try {
            new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        } catch (IOException e) {
            // nothing to signal
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
