package io.pworker.worker;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Discovered;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.RunHandle;
import io.pworker.spi.Watch;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A plugin's launcher as the core calls it: a plugin bug (an unchecked exception or a linkage error from a broken
 * jar) becomes the checked failure the SPI already defines for that call, named after the plugin, so it fails the
 * one run it concerns and never a worker thread. The stack trace is logged at debug level for the plugin's author.
 */
final class GuardedLauncher implements InfrastructureLauncher {

    private static final Logger log = LoggerFactory.getLogger(GuardedLauncher.class);

    private final String type;
    private final InfrastructureLauncher plugin;

    GuardedLauncher(String type, InfrastructureLauncher plugin) {
        this.type = type;
        this.plugin = plugin;
    }

    private String failed(String call, Throwable e) {
        log.debug("The '{}' plugin failed in {}", type, call, e);
        return "the '" + type + "' plugin failed in " + call + ": " + e;
    }

    @Override
    public RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException {
        try {
            RunHandle handle = plugin.launch(request);
            if (handle == null) {
                throw new LaunchException("the '" + type + "' plugin returned no handle from launch");
            }
            return handle;
        } catch (RuntimeException | LinkageError e) {
            throw new LaunchException(failed("launch", e), e);
        }
    }

    @Override
    public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) throws InfrastructureException {
        Watch watch;
        try {
            watch = plugin.watch(handle, configuration, sink);
        } catch (RuntimeException | LinkageError e) {
            throw new InfrastructureException(failed("watch", e), e);
        }
        if (watch == null) {
            throw new InfrastructureException("the '" + type + "' plugin returned no watch");
        }
        return () -> {
            try {
                watch.close();
            } catch (RuntimeException | LinkageError e) {
                log.warn("{}", failed("Watch.close", e));
            }
        };
    }

    @Override
    public Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException, InterruptedException {
        try {
            Phase phase = plugin.recover(handle, configuration);
            if (phase == null) {
                throw new InfrastructureException("the '" + type + "' plugin returned no phase from recover");
            }
            return phase;
        } catch (RuntimeException | LinkageError e) {
            throw new InfrastructureException(failed("recover", e), e);
        }
    }

    @Override
    public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace)
            throws InfrastructureException, InterruptedException {
        try {
            KillOutcome outcome = plugin.kill(handle, configuration, grace);
            if (outcome == null) {
                throw new InfrastructureException("the '" + type + "' plugin returned no outcome from kill");
            }
            return outcome;
        } catch (RuntimeException | LinkageError e) {
            throw new InfrastructureException(failed("kill", e), e);
        }
    }

    @Override
    public List<Discovered> discover(InfrastructureScope scope) throws InfrastructureException, InterruptedException {
        try {
            List<Discovered> found = plugin.discover(scope);
            return found == null ? List.of() : List.copyOf(found);
        } catch (RuntimeException | LinkageError e) {
            throw new InfrastructureException(failed("discover", e), e);
        }
    }

    @Override
    public void release(RunHandle handle, ObjectNode configuration) {
        try {
            plugin.release(handle, configuration);
        } catch (RuntimeException | LinkageError e) {
            log.warn("Flow run infrastructure {}: {}", handle.infrastructurePid(), failed("release", e));
        }
    }

    @Override
    public void close() {
        try {
            plugin.close();
        } catch (Exception | LinkageError e) {
            log.warn("{}", failed("close", e));
        }
    }
}
