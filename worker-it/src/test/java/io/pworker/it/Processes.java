package io.pworker.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** What {@code /proc} says about process groups, which {@link ProcessHandle} does not expose. */
final class Processes {

    private Processes() {
    }

    /** Pids of the live (not zombie) processes whose process group is {@code pgid}. */
    static List<Long> inGroup(long pgid) {
        List<Long> out = new ArrayList<>();
        try (Stream<Path> entries = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) entries::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                String stat;
                try {
                    stat = Files.readString(p.resolve("stat"));
                } catch (IOException gone) {
                    continue;
                }
                // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so read after the last ')'
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                if (!f[0].equals("Z") && Long.parseLong(f[2]) == pgid) {
                    out.add(Long.parseLong(name));
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc", e);
        }
        return out;
    }

    static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) && !zombie(pid);
    }

    private static boolean zombie(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (IOException gone) {
            return true;
        }
    }
}
