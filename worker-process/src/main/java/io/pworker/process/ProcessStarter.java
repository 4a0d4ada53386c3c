package io.pworker.process;

import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * Starts one flow-run process: its working directory, the wrapped command line, its environment and the copy of
 * its output to the console. Writing the launch record is the launcher's business.
 */
final class ProcessStarter {

    private final ExitWrapper wrapper;
    private final PrintStream console;
    private final String bootId;

    ProcessStarter(ExitWrapper wrapper, PrintStream console, String bootId) {
        this.wrapper = wrapper;
        this.console = console;
        this.bootId = bootId;
    }

    Child start(FlowRunInfo run, ProcessSpec spec, Path exitFile) throws LaunchException {
        Path tempDir = null;
        Path dir = spec.workingDir();
        if (dir == null) {
            try {
                tempDir = Files.createTempDirectory("pworker-" + run.id().replaceAll("[^A-Za-z0-9-]", "_") + "-");
            } catch (IOException e) {
                throw new LaunchException("cannot create a working directory for the flow run: " + e.getMessage(), e);
            }
            dir = tempDir;
        }
        ProcessBuilder builder = new ProcessBuilder(wrapper.command(exitFile, spec.program(), spec.args()))
                .directory(dir.toFile()).redirectErrorStream(true);
        if (!spec.streamOutput()) {
            builder.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        }
        Map<String, String> env = builder.environment();
        env.clear();
        env.putAll(spec.env());
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            deleteTree(tempDir);
            throw new LaunchException("cannot start command '" + spec.program() + "': " + e.getMessage(), e);
        }
        ProcessIdentity identity = ProcessIdentity.observe(process.pid(), bootId);
        Thread pump = spec.streamOutput() ? pump(process, "[" + spec.name() + "] ") : null;
        return new Child(run.id(), process, identity, tempDir, pump, new AtomicBoolean());
    }

    private Thread pump(Process process, String prefix) {
        return Thread.ofVirtual().name("pworker-output-" + process.pid()).start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    console.println(prefix + line);
                }
            } catch (IOException ignored) {
                // the child closed its output
            }
        });
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
