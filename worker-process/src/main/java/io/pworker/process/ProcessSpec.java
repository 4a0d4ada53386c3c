package io.pworker.process;

import io.pworker.spi.LaunchException;
import io.pworker.spi.ShellWords;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A flow-run command ready to start: the job configuration checked, the command split into words, the program
 * found, the environment merged. Making one creates nothing, so a bad configuration leaves nothing behind.
 *
 * @param program      the program's path
 * @param args         its arguments, exactly as split from {@code command}
 * @param workingDir   {@code working_dir}, or null for a temporary directory made at launch
 * @param env          the child's whole environment
 * @param streamOutput whether to copy the child's output to the worker's console
 * @param name         the prefix for copied output lines
 */
record ProcessSpec(String program, List<String> args, Path workingDir, Map<String, String> env, boolean streamOutput,
        String name) {

    ProcessSpec {
        args = List.copyOf(args);
        env = Map.copyOf(env);
    }

    /**
     * What the configuration asks for, before anything on this machine is looked at: the command split into
     * words, the working directory, and the variables set over the worker's environment. Shown by
     * {@code pworker render}; {@link #prepare} checks it against the machine.
     *
     * @param workingDir {@code working_dir}, or null for a temporary directory made at launch
     */
    record Plan(List<String> argv, Path workingDir, Map<String, String> env, boolean streamOutput, String name) {

        Plan {
            argv = List.copyOf(argv);
            env = Map.copyOf(env);
        }

        static Plan of(ProcessJobConfiguration config) throws LaunchException {
            List<String> argv;
            try {
                argv = ShellWords.split(config.command());
            } catch (IllegalArgumentException e) {
                throw new LaunchException("invalid job configuration 'command': " + e.getMessage());
            }
            if (argv.isEmpty()) {
                throw new LaunchException("invalid job configuration 'command': it is empty");
            }
            return new Plan(argv, config.workingDir() == null ? null : Path.of(config.workingDir()), config.env(),
                    config.streamOutput(), config.name());
        }

        /** The child's whole environment: job variables win over the worker's own, unlike Prefect 3.4's runner (see README). */
        Map<String, String> environment(Map<String, String> workerEnvironment) {
            Map<String, String> all = new HashMap<>(workerEnvironment);
            all.putAll(env);
            return all;
        }
    }

    static ProcessSpec prepare(ProcessJobConfiguration config, Map<String, String> workerEnvironment)
            throws LaunchException {
        Plan plan = Plan.of(config);
        List<String> argv = plan.argv();
        Path dir = plan.workingDir();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new LaunchException("working_dir '" + config.workingDir() + "' is not an existing directory");
        }
        Map<String, String> env = plan.environment(workerEnvironment);
        // the wrapper would turn "not found" into a late exit code 127; find the program first for a clear error
        String program = resolve(argv.getFirst(), env.get("PATH"), dir);
        if (program == null) {
            throw new LaunchException("cannot start command '" + argv.getFirst() + "': not found or not executable"
                    + (argv.getFirst().contains("/") ? "" : " on PATH=" + env.getOrDefault("PATH", "")));
        }
        return new ProcessSpec(program, argv.subList(1, argv.size()), dir, env, config.streamOutput(), config.name());
    }

    /** The program's path as the child will run it, or null. A relative path with a slash needs a working_dir. */
    private static String resolve(String program, String path, Path workingDir) {
        if (program.contains("/")) {
            Path p = Path.of(program);
            if (!p.isAbsolute()) {
                if (workingDir == null) {
                    return null;
                }
                p = workingDir.resolve(p);
            }
            return Files.isRegularFile(p) && Files.isExecutable(p) ? program : null;
        }
        for (String dir : (path == null ? "/usr/local/bin:/usr/bin:/bin" : path).split(":", -1)) {
            Path p = (dir.isEmpty() && workingDir != null ? workingDir : Path.of(dir.isEmpty() ? "." : dir))
                    .resolve(program);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p.toAbsolutePath().toString();
            }
        }
        return null;
    }
}
