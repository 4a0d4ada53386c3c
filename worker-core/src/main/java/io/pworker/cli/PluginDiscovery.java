package io.pworker.cli;

import io.pworker.worker.PluginRegistry;
import java.util.concurrent.FutureTask;
import java.util.function.Supplier;

/** The installed plugins, found on a thread of its own from the moment the command starts. */
final class PluginDiscovery implements Supplier<PluginRegistry> {

    private final FutureTask<PluginRegistry> task = new FutureTask<>(PluginRegistry::discover);

    private PluginDiscovery() {
    }

    /** @param then what the thread does next, once the plugins are known */
    static PluginDiscovery inBackground(Runnable then) {
        PluginDiscovery discovery = new PluginDiscovery();
        Thread.ofPlatform().name("pworker-plugins").daemon().start(() -> {
            discovery.task.run();
            then.run();
        });
        return discovery;
    }

    /** Waits for the discovery; a failure there is thrown here, as if it had run on this thread. */
    @Override
    public PluginRegistry get() {
        try {
            return task.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while finding the installed plugins", e);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (e.getCause() instanceof Error error) {
                throw error;
            }
            throw new IllegalStateException(e.getCause());
        }
    }
}
