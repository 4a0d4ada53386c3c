package io.pworker.process;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Sends signals with the system's {@code kill(1)}, which, unlike the JDK, can signal a whole process group: the
 * flow run's process, the wrapper that leads its group, and whatever the flow started.
 */
final class GroupSignals {

    private final String kill;

    GroupSignals() {
        this.kill = Files.isExecutable(Path.of("/bin/kill")) ? "/bin/kill"
                : Files.isExecutable(Path.of("/usr/bin/kill")) ? "/usr/bin/kill" : "kill";
    }

    /**
     * Sends {@code signal} ({@code TERM}, {@code KILL}) to the process and, when {@code group}, to the group it
     * leads. The process is named too because a group that is only believed to exist (no {@code /proc} to check)
     * may not exist yet: right after start, before {@code setsid} has run.
     */
    void send(String signal, long pid, boolean group) throws InterruptedException {
        if (group) {
            run(signal, pid, Long.toString(pid), "-" + pid);
        } else {
            run(signal, pid, Long.toString(pid));
        }
    }

    /**
     * SIGKILL to what is left of the group once its leader has ended, and not to the leader's pid, which may
     * already belong to someone else. The group id itself cannot be given to a new process while any member of
     * the group lives.
     */
    void sweepGroup(long pid) throws InterruptedException {
        run("KILL", pid, "-" + pid);
    }

    private void run(String signal, long pid, String... targets) throws InterruptedException {
        List<String> command = new ArrayList<>(List.of(kill, "-s", signal, "--"));
        command.addAll(List.of(targets));
        try {
            Process p = new ProcessBuilder(command)
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (IOException e) {
            // without kill(1), the JDK reaches the process itself but not its group
            if (targets[0].equals(Long.toString(pid))) {
                ProcessHandle.of(pid).ifPresent(h -> {
                    if (signal.equals("KILL")) {
                        h.destroyForcibly();
                    } else {
                        h.destroy();
                    }
                });
            }
        }
    }
}
