package io.pworker.process;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.JsonNode;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.PluginContext;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.RunHandle;
import io.pworker.spi.Watch;
import io.pworker.spi.ShellWords;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Launches flow runs as subprocesses. Each child is started through {@code setsid} so that it leads its own
 * process group: a cancellation then reaches everything the flow started (an engine, its subprocesses), not
 * just the first process, and the worker's own terminal signals do not reach the children.
 */
final class ProcessLauncher implements InfrastructureLauncher {

    private static final String SETSID = findSetsid();

    private final PluginContext context;
    private final Map<Long, Child> children = new ConcurrentHashMap<>();

    ProcessLauncher(PluginContext context) {
        this.context = context;
    }

    /** What the launcher keeps about a child it started; the pid alone is enough for kill. */
    private record Child(Process process, Path tempDir, Thread pump, java.util.concurrent.atomic.AtomicBoolean killed) {
    }

    @Override
    public RunHandle launch(LaunchRequest request) throws LaunchException {
        ProcessJobConfiguration config = ProcessJobConfiguration.from(request.configuration());
        List<String> argv;
        try {
            argv = ShellWords.split(config.command());
        } catch (IllegalArgumentException e) {
            throw new LaunchException("invalid job configuration 'command': " + e.getMessage());
        }
        if (argv.isEmpty()) {
            throw new LaunchException("invalid job configuration 'command': it is empty");
        }
        Path tempDir = null;
        Path dir;
        try {
            if (config.workingDir() != null) {
                dir = Path.of(config.workingDir());
                if (!Files.isDirectory(dir)) {
                    throw new LaunchException("working_dir '" + config.workingDir() + "' is not an existing directory");
                }
            } else {
                tempDir = Files.createTempDirectory("pworker-" + request.run().id() + "-");
                dir = tempDir;
            }
        } catch (IOException e) {
            throw new LaunchException("cannot create a working directory for the flow run: " + e.getMessage(), e);
        }
        Map<String, String> childEnv = new java.util.HashMap<>(context.environment());
        // job variables win over the worker's own environment, unlike Prefect 3.4's runner (see README)
        childEnv.putAll(config.env());
        // setsid would turn "not found" into a late exit code; find the program first for a clear error
        String program = resolve(argv.getFirst(), childEnv.get("PATH"), dir);
        if (program == null) {
            deleteQuietly(tempDir);
            throw new LaunchException("cannot start command '" + argv.getFirst() + "': not found or not executable"
                    + (argv.getFirst().contains("/") ? "" : " on PATH=" + childEnv.getOrDefault("PATH", "")));
        }
        List<String> command = new ArrayList<>();
        if (SETSID != null) {
            command.add(SETSID);
        }
        command.add(program);
        command.addAll(argv.subList(1, argv.size()));
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        if (!config.streamOutput()) {
            builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        }
        Map<String, String> env = builder.environment();
        env.clear();
        env.putAll(childEnv);
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            deleteQuietly(tempDir);
            throw new LaunchException("cannot start command '" + argv.getFirst() + "': " + e.getMessage(), e);
        }
        Thread pump = null;
        if (config.streamOutput()) {
            String prefix = "[" + config.name() + "] ";
            pump = Thread.ofVirtual().name("pworker-output-" + process.pid()).start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        context.console().println(prefix + line);
                    }
                } catch (IOException ignored) {
                    // the child closed its output
                }
            });
        }
        children.put(process.pid(), new Child(process, tempDir, pump, new java.util.concurrent.atomic.AtomicBoolean()));
        return new RunHandle(Long.toString(process.pid()), Map.of("pid", Long.toString(process.pid())));
    }

    @Override
    public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) {
        // transitional: one virtual thread per watched run, polling the blocking wait
        Thread t = Thread.ofVirtual().name("pworker-watch-" + handle.infrastructurePid()).start(() -> {
            int failures = 0;
            sink.report(new Phase.Running());
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    Optional<ExitStatus> s = await(handle, Duration.ofSeconds(2));
                    if (s.isPresent()) {
                        sink.report(s.get().code() == -1 && s.get().reason() != null ? new Phase.Gone(s.get().reason())
                                : new Phase.Exited(s.get()));
                        return;
                    }
                    failures = 0;
                } catch (InterruptedException e) {
                    return;
                } catch (InfrastructureException | RuntimeException e) {
                    if (++failures >= 5) {
                        sink.report(new Phase.Gone("The worker lost track of the flow run's infrastructure: " + e.getMessage()));
                        return;
                    }
                    try {
                        Thread.sleep(Duration.ofSeconds(1L << Math.min(failures, 4)));
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
            }
        });
        return t::interrupt;
    }

    @Override
    public Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException, InterruptedException {
        Optional<ExitStatus> s = await(handle, Duration.ZERO);
        if (s.isEmpty()) {
            return new Phase.Running();
        }
        return s.get().code() == -1 && s.get().reason() != null ? new Phase.Gone(s.get().reason()) : new Phase.Exited(s.get());
    }

    Optional<ExitStatus> await(RunHandle handle, Duration timeout) throws InfrastructureException, InterruptedException {
        long pid = pid(handle);
        Child child = children.get(pid);
        if (child != null) {
            if (!child.process().waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                return Optional.empty();
            }
            if (child.pump() != null) {
                child.pump().join(Duration.ofSeconds(2));
            }
            int code = child.process().exitValue();
            // Java reports death by signal N as 128+N; Prefect's process worker reports -N
            if (code > 128 && code < 160 && child.killed().get()) {
                code = -(code - 128);
            }
            return Optional.of(ExitStatus.of(code));
        }
        Optional<ProcessHandle> other = ProcessHandle.of(pid);
        if (other.isEmpty()) {
            return Optional.of(new ExitStatus(-1, "Process " + pid + " is not running and was not started by this "
                    + "worker process, so its exit code is unknown"));
        }
        try {
            other.get().onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return Optional.of(new ExitStatus(-1, "Process " + pid + " ended, but was not started by this worker process; "
                    + "its exit code is unknown"));
        } catch (java.util.concurrent.TimeoutException e) {
            return Optional.empty();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new InfrastructureException("cannot watch process " + pid + ": " + e.getCause(), e);
        }
    }

    @Override
    public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace) throws InfrastructureException, InterruptedException {
        long pid = pid(handle);
        Child child = children.get(pid);
        Optional<ProcessHandle> ph = child != null ? Optional.of(child.process().toHandle()) : ProcessHandle.of(pid);
        if (ph.isEmpty() || !ph.get().isAlive()) {
            return KillOutcome.NOT_FOUND;
        }
        if (child != null) {
            child.killed().set(true);
        }
        boolean group = SETSID != null && child != null;
        signal(pid, "TERM", true, group);
        try {
            ph.get().onExit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            signal(pid, "KILL", true, group);
            try {
                ph.get().onExit().get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException again) {
                throw new InfrastructureException("process " + pid + " survived SIGKILL");
            }
        } catch (java.util.concurrent.ExecutionException e) {
            throw new InfrastructureException("cannot watch process " + pid + ": " + e.getCause(), e);
        }
        if (group) {
            // the leader is gone (its pid may already belong to someone else): sweep only its group
            signal(pid, "KILL", false, true);
        }
        return KillOutcome.KILLED;
    }

    /**
     * Signals the process and, when it leads its own group, the whole group, with the system's kill(1). The
     * process itself is named too: right after start, before {@code setsid} has run, the group does not exist.
     */
    private static void signal(long pid, String signal, boolean leader, boolean group) throws InterruptedException {
        List<String> command = new ArrayList<>(List.of("kill", "-s", signal, "--"));
        if (leader) {
            command.add(Long.toString(pid));
        }
        if (group) {
            command.add("-" + pid);
        }
        try {
            Process p = new ProcessBuilder(command)
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            p.waitFor(5, TimeUnit.SECONDS);
        } catch (IOException e) {
            // without kill(1), fall back to the JDK, which reaches the leader only
            ProcessHandle.of(pid).ifPresent(h -> {
                if (signal.equals("KILL")) {
                    h.destroyForcibly();
                } else {
                    h.destroy();
                }
            });
        }
    }

    @Override
    public void release(RunHandle handle, ObjectNode configuration) {
        Child child = children.remove(pid(handle));
        if (child != null) {
            deleteQuietly(child.tempDir());
        }
    }

    private static long pid(RunHandle handle) {
        try {
            String pid = handle.infrastructurePid();
            // older Prefect releases wrote "<hostname>:<pid>"
            return Long.parseLong(pid.substring(pid.lastIndexOf(':') + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a process infrastructure_pid: " + handle.infrastructurePid());
        }
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        } catch (IOException ignored) {
            // a temp dir left behind is harmless
        }
    }

    private static String resolve(String program, String path, Path workingDir) {
        if (program.contains("/")) {
            Path p = workingDir.resolve(program);
            return Files.isRegularFile(p) && Files.isExecutable(p) ? program : null;
        }
        for (String dir : (path == null ? "/usr/local/bin:/usr/bin:/bin" : path).split(":")) {
            Path p = Path.of(dir.isEmpty() ? "." : dir).resolve(program);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    private static String findSetsid() {
        for (String candidate : new String[] {"/usr/bin/setsid", "/bin/setsid"}) {
            if (Files.isExecutable(Path.of(candidate))) {
                return candidate;
            }
        }
        return null;
    }
}
