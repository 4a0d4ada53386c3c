package io.pworker.process;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * How a flow-run command is started: in its own session and process group ({@code setsid}), under a fixed POSIX
 * shell script that writes the command's exit code to a file. The file is what lets a worker that is not the
 * parent of the process (it was restarted after a crash, or it handed the process to init) still learn how the
 * run ended.
 *
 * <p>The command line is {@code setsid [--fork] /bin/sh -c SCRIPT pworker-run EXIT_FILE PROGRAM ARG…}. The user's
 * program and arguments reach {@code "$@"} as separate words, so nothing in them is parsed by the shell. The script:
 * <ul>
 *   <li>sets a trap with a handler ({@code :}) for the signals the worker and operators send to the group, so the
 *       shell outlives a SIGTERM long enough to write the code. A handler, not an ignore: ignored signals are
 *       inherited across exec, handled ones are reset, so the command gets SIGTERM and SIGINT as usual;</li>
 *   <li>writes its own pid to {@code EXIT_FILE.pid} (one {@code write}: a reader that finds a line ending in a
 *       newline has all of it). A worker that started it with {@code setsid --fork}, and so is not its parent,
 *       learns the pid from there, and only once the trap is set. Not a pipe to the worker: the JDK closes the
 *       pipes of a child that has ended, and the process the worker starts ends at once;</li>
 *   <li>runs the command in the foreground, which keeps its stdin, stdout and stderr those of the shell (a
 *       background command would get {@code /dev/null} as stdin and ignore SIGINT); a trapped signal that arrives
 *       meanwhile runs its handler only once the command has ended;</li>
 *   <li>writes the code to {@code EXIT_FILE.tmp} and renames it, so a reader sees the whole code or nothing.
 *       {@code command -p} finds {@code mv} even when the run's {@code PATH} does not have it;</li>
 *   <li>exits with the same code, so a worker that is its parent sees what it would have seen without it.</li>
 * </ul>
 * A command killed by signal N leaves {@code 128+N} both in the file and as the shell's exit code, which is also
 * how the JDK reports a child killed by a signal; {@link #reportedCode} turns that into Prefect's {@code -N} when
 * the worker sent the signal. SIGKILL to the group kills the shell too, and then nothing is written.
 *
 * <p><b>Detached</b> ({@code setsid --fork}, the default where util-linux's {@code setsid} has it): the process
 * the worker starts forks the wrapper and exits at once, so the wrapper is re-parented to init (or the nearest
 * subreaper), which collects it when it ends. The worker then holds no {@code Process} per run, and the JDK no
 * "process reaper" thread per run: every run is watched like one found after a restart, by the {@link ExitPoller}
 * and the exit file. Not when the worker is itself PID 1 (a container without an init): orphans would come back
 * to it, and a JVM never collects a process it did not start, so each would stay a zombie. There, and with a
 * {@code setsid} without {@code --fork} (busybox), runs stay the worker's children ({@link #detaches()} false).
 *
 * <p>One window needs care: from the moment the trap is set until the command has been exec'd, a SIGTERM to the
 * group is caught by the shell (or by its forked copy that is about to exec the command) and never reaches the
 * command. {@link #commandStarted} tells when a wrapper has left that window, so that a kill that came earlier can
 * send its SIGTERM once more, to the command that missed it ({@link GroupStop}).
 */
final class ExitWrapper {

    static final String SCRIPT = """
            f=$1; shift
            trap : HUP INT QUIT TERM
            printf '%s\\n' "$$" > "$f.pid"
            "$@"
            c=$?
            printf '%s\\n' "$c" > "$f.tmp" && command -p mv -f -- "$f.tmp" "$f"
            exit "$c"
            """;

    /** The shell's {@code $0}: what {@code ps} shows for the wrapper, and the prefix of its error messages. */
    static final String NAME = "pworker-run";

    private final String setsid;
    private final String shell;
    private final boolean detach;

    /**
     * @param setsid the {@code setsid} program, or null when the machine has none (the command then shares the
     *               worker's process group and no wrapper is used: a SIGTERM held by the shell would never reach
     *               the command without a group to send it to)
     * @param shell  a POSIX shell for the script, or null to run without one (exit codes unknown after a restart)
     * @param detach whether to start the wrapper with {@code setsid --fork}, handing it to init; only with both
     *               programs, since without the script the worker could learn neither the pid nor the exit code
     */
    ExitWrapper(String setsid, String shell, boolean detach) {
        this.setsid = setsid;
        this.shell = setsid == null ? null : shell;
        this.detach = detach && this.shell != null;
    }

    /** The programs this machine has; detached unless this worker is PID 1 or {@code setsid} cannot fork. */
    static ExitWrapper detect() {
        return detect(ProcessHandle.current().pid());
    }

    /** As {@link #detect()} for a worker whose own pid is {@code ownPid}. */
    static ExitWrapper detect(long ownPid) {
        String setsid = firstExecutable("/usr/bin/setsid", "/bin/setsid");
        String shell = firstExecutable("/bin/sh");
        // a PID 1 would inherit every detached wrapper and never collect it; without /proc, no end could be seen
        boolean detach = setsid != null && shell != null && ownPid != 1 && ProcStat.available()
                && forks(setsid, shell);
        return new ExitWrapper(setsid, shell, detach);
    }

    /** The same without the shell, as on a machine that has no {@code /bin/sh}. */
    ExitWrapper withoutShell() {
        return new ExitWrapper(setsid, null, false);
    }

    /** The same with every run a child of the worker, as when the worker is PID 1. */
    ExitWrapper attached() {
        return new ExitWrapper(setsid, shell, false);
    }

    /** Whether the wrapper is handed to init, so that the worker is not the parent of any run. */
    boolean detaches() {
        return detach;
    }

    /** Whether the exit code of a run is written to its exit file. */
    boolean recordsExitCodes() {
        return shell != null;
    }

    /** Whether runs lead their own process group. */
    boolean groups() {
        return setsid != null;
    }

    /** Where the wrapper writing to {@code exitFile} writes its pid. */
    static Path pidFile(Path exitFile) {
        return exitFile.resolveSibling(exitFile.getFileName() + ".pid");
    }

    /** The pid in a wrapper's pid file, once it is there whole. */
    static Optional<Long> writtenPid(Path exitFile) {
        if (!Files.exists(pidFile(exitFile))) {
            // the usual answer while a launch waits for it, and cheaper than the exception of a failed read
            return Optional.empty();
        }
        try {
            String text = Files.readString(pidFile(exitFile), StandardCharsets.US_ASCII);
            return text.matches("[1-9][0-9]{0,18}\n") ? Optional.of(Long.parseLong(text.strip())) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The full command line for {@code program} with {@code args}, writing its exit code to {@code exitFile}. */
    List<String> command(Path exitFile, String program, List<String> args) {
        List<String> command = new ArrayList<>();
        if (setsid != null) {
            command.add(setsid);
            if (detach) {
                command.add("--fork");
            }
        }
        if (shell != null) {
            command.addAll(List.of(shell, "-c", SCRIPT, NAME, exitFile.toString()));
        }
        command.add(program);
        command.addAll(args);
        return command;
    }

    /**
     * The code the core sees. A process killed by signal N shows as {@code 128+N} (from the shell, or from the
     * JDK when the shell itself was killed); when the worker had asked it to stop, Prefect's process worker
     * reports {@code -N}, and so does pworker. Any other code, including {@code 128+N} from a signal the worker
     * did not send (an out-of-memory kill: 137), is reported as it is.
     */
    static int reportedCode(int raw, boolean killedByWorker) {
        return killedByWorker && raw > 128 && raw < 160 ? -(raw - 128) : raw;
    }

    /** True when {@code pid} runs this wrapper (or is {@code setsid} about to become it). */
    static boolean isWrapper(long pid) {
        return isWrapper(cmdline(pid));
    }

    /**
     * True when the wrapper {@code pid} has a child that is no longer a copy of the wrapper: its command, exec'd.
     * From then on a SIGTERM meets the command's own signal dispositions, since exec resets handled signals.
     */
    static boolean commandStarted(long pid) {
        // until it execs, the forked child shows the wrapper's own command line; while it execs, an empty one
        return ProcessHandle.of(pid).map(h -> h.children().anyMatch(c -> {
            byte[] own = cmdline(c.pid());
            return own.length > 0 && !isWrapper(own);
        })).orElse(false);
    }

    /**
     * The pid of a live wrapper that writes to {@code exitFile}: a process started for the run by a worker that
     * crashed before it could note the pid. Its pid file names it, once written; else the processes are searched:
     * the exit file's path names the state directory and the run, so no other process has it on its command line.
     * Of a wrapper and its forked copy (before the command is exec'd), the one that leads its group is the
     * wrapper; failing that (caught before {@code setsid} ran), the one whose parent is not a process of the same
     * run. A detached launch briefly has two {@code setsid} processes with the
     * same command line: the one that forked, about to exit, and the one that becomes the wrapper and leads.
     */
    static Optional<Long> findRunning(Path exitFile) {
        byte[] mark = ("\0" + NAME + "\0" + exitFile + "\0").getBytes(StandardCharsets.UTF_8);
        // the pid file says it at once, unless the wrapper has not written it yet (or its pid went to another)
        Optional<Long> written = writtenPid(exitFile).filter(pid -> contains(cmdline(pid), mark)
                && ProcStat.read(pid).map(ProcStat::running).orElse(false));
        if (written.isPresent()) {
            return written;
        }
        List<Long> found = new ArrayList<>();
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> isPid(p.getFileName()))) {
            for (Path proc : procs) {
                long pid = Long.parseLong(proc.getFileName().toString());
                if (contains(cmdline(pid), mark) && ProcStat.read(pid).map(ProcStat::running).orElse(false)) {
                    found.add(pid);
                }
            }
        } catch (IOException e) {
            // no /proc: nothing can be found
        }
        return found.stream().filter(pid -> ProcStat.read(pid).map(ProcStat::leadsItsGroup).orElse(false)).findFirst()
                .or(() -> found.stream().filter(pid -> ProcessHandle.of(pid).flatMap(ProcessHandle::parent)
                        .map(parent -> !found.contains(parent.pid())).orElse(true)).findFirst());
    }

    private static boolean isPid(Path name) {
        String s = name.toString();
        return !s.isEmpty() && s.chars().allMatch(Character::isDigit);
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private static boolean isWrapper(byte[] cmdline) {
        return cmdline.length > 0 && new String(cmdline, StandardCharsets.UTF_8).contains("\0" + NAME + "\0");
    }

    private static byte[] cmdline(long pid) {
        try {
            return Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
        } catch (IOException e) {
            return new byte[0];
        }
    }

    /**
     * Whether {@code setsid} knows {@code --fork} (util-linux does, busybox does not): tried once, on a shell that
     * does nothing, since the programs do not say so otherwise.
     */
    private static boolean forks(String setsid, String shell) {
        try {
            Process p = new ProcessBuilder(setsid, "--fork", shell, "-c", ":")
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectErrorStream(true).start();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static String firstExecutable(String... candidates) {
        for (String candidate : candidates) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        return null;
    }
}
