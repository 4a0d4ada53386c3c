package io.pworker.worker;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.Discovered;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.PluginContext;
import io.pworker.spi.RunHandle;
import io.pworker.spi.Watch;
import java.time.Duration;
import java.util.List;

/**
 * A plugin loaded from its own directory: every call into it, and into the launcher it creates, runs with the
 * plugin's class loader as the thread's context class loader, the way SDKs (service loaders of HTTP clients,
 * credential providers, Jackson modules) expect to find their own classes. The catalogue methods need no switch.
 */
final class IsolatedPlugin implements InfrastructurePlugin {

    private final InfrastructurePlugin plugin;
    private final ClassLoader loader;

    IsolatedPlugin(InfrastructurePlugin plugin, ClassLoader loader) {
        this.plugin = plugin;
        this.loader = loader;
    }

    /** The plugin's own class, for messages and duplicate checks. */
    Class<?> pluginClass() {
        return plugin.getClass();
    }

    @Override
    public String type() {
        return plugin.type();
    }

    @Override
    public String workerClassName() {
        return plugin.workerClassName();
    }

    @Override
    public ObjectNode defaultBaseJobTemplate() {
        return plugin.defaultBaseJobTemplate();
    }

    @Override
    public java.util.Optional<ObjectNode> preview(LaunchRequest request) throws LaunchException {
        try (Context ignored = enter()) {
            return plugin.preview(request);
        }
    }

    @Override
    public Capabilities capabilities() {
        return plugin.capabilities();
    }

    @Override
    public InfrastructureLauncher create(PluginContext context) throws InfrastructureException {
        try (Context ignored = enter()) {
            return new Launcher(plugin.create(context));
        }
    }

    private Context enter() {
        Thread t = Thread.currentThread();
        ClassLoader previous = t.getContextClassLoader();
        t.setContextClassLoader(loader);
        return () -> t.setContextClassLoader(previous);
    }

    private interface Context extends AutoCloseable {
        @Override
        void close();
    }

    private final class Launcher implements InfrastructureLauncher {
        private final InfrastructureLauncher delegate;

        Launcher(InfrastructureLauncher delegate) {
            this.delegate = delegate;
        }

        @Override
        public RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException {
            try (Context ignored = enter()) {
                return delegate.launch(request);
            }
        }

        @Override
        public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) throws InfrastructureException {
            try (Context ignored = enter()) {
                return delegate.watch(handle, configuration, sink);
            }
        }

        @Override
        public Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException, InterruptedException {
            try (Context ignored = enter()) {
                return delegate.recover(handle, configuration);
            }
        }

        @Override
        public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace)
                throws InfrastructureException, InterruptedException {
            try (Context ignored = enter()) {
                return delegate.kill(handle, configuration, grace);
            }
        }

        @Override
        public List<Discovered> discover(InfrastructureScope scope) throws InfrastructureException, InterruptedException {
            try (Context ignored = enter()) {
                return delegate.discover(scope);
            }
        }

        @Override
        public void release(RunHandle handle, ObjectNode configuration) {
            try (Context ignored = enter()) {
                delegate.release(handle, configuration);
            }
        }

        @Override
        public void close() {
            try (Context ignored = enter()) {
                delegate.close();
            }
        }
    }
}
