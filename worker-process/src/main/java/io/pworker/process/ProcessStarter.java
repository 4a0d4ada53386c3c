package io.pworker.process;

import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * Starts one flow-run process: its working directory, the wrapped command line, its environment and where its
 * output goes. Writing the launch record and following the output are the launcher's business.
 */
final class ProcessStarter {

    private final ExitWrapper wrapper;
    private final String bootId;

    ProcessStarter(ExitWrapper wrapper, String bootId) {
        this.wrapper = wrapper;
        this.bootId = bootId;
    }

    /**
     * Makes the temporary working directory of a run without {@code working_dir}, before the launch record that
     * names it is written; null when the run has a {@code working_dir}.
     */
    static Path temporaryDirectory(FlowRunInfo run, ProcessSpec spec) throws LaunchException {
        if (spec.workingDir() != null) {
            return null;
        }
        try {
            return Files.createTempDirectory(temporaryDirectoryPrefix(run));
        } catch (IOException e) {
            throw new LaunchException("cannot create a working directory for the flow run: " + e.getMessage(), e);
        }
    }

    /** The name of a run's temporary directory, before the random part {@link Files#createTempDirectory} adds. */
    static String temporaryDirectoryPrefix(FlowRunInfo run) {
        return "pworker-" + run.id().replaceAll("[^A-Za-z0-9-]", "_") + "-";
    }

    /**
     * Starts the process. Its stdout and stderr go, together, to the end of {@code outputFile}, or nowhere when
     * that is null: never to a pipe, which would tie the run to this worker process (see {@link OutputFollower}).
     */
    Child start(FlowRunInfo run, ProcessSpec spec, Path tempDir, Path exitFile, Path outputFile)
            throws LaunchException {
        Path dir = spec.workingDir() != null ? spec.workingDir() : tempDir;
        ProcessBuilder builder = new ProcessBuilder(wrapper.command(exitFile, spec.program(), spec.args()))
                .directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(outputFile == null ? ProcessBuilder.Redirect.DISCARD
                        // O_APPEND: every write lands at the end, also after the follower has emptied the file
                        : ProcessBuilder.Redirect.appendTo(outputFile.toFile()));
        Map<String, String> env = builder.environment();
        env.clear();
        env.putAll(spec.env());
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new LaunchException("cannot start command '" + spec.program() + "': " + e.getMessage(), e);
        }
        return new Child(run.id(), process, ProcessIdentity.observe(process.pid(), bootId), tempDir,
                new AtomicBoolean());
    }

    /**
     * Removes a temporary working directory. Only directories named like the ones {@link #start} makes are
     * touched, since after a restart the path comes from a file in the state directory.
     */
    static void deleteTree(Path dir) {
        if (dir == null || !dir.getFileName().toString().startsWith("pworker-")) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        } catch (IOException ignored) {
            // a temporary directory left behind is harmless
        }
    }
}
