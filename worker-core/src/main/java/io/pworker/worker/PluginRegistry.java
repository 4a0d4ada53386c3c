package io.pworker.worker;

import io.pworker.spi.InfrastructurePlugin;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The infrastructure plugins found on the class path, by type. */
public final class PluginRegistry {

    private final Map<String, InfrastructurePlugin> byType;

    public PluginRegistry(Iterable<InfrastructurePlugin> plugins) {
        Map<String, InfrastructurePlugin> map = new TreeMap<>();
        for (InfrastructurePlugin p : plugins) {
            InfrastructurePlugin previous = map.putIfAbsent(p.type(), p);
            if (previous != null && pluginClass(previous) != pluginClass(p)) {
                throw new IllegalStateException("two plugins serve type '" + p.type() + "': "
                        + pluginClass(previous).getName() + " and " + pluginClass(p).getName());
            }
        }
        this.byType = Collections.unmodifiableMap(map);
    }

    /**
     * The plugins on the class path (tests, IDE runs) and, in the distribution, those in the plugin directory
     * named by the {@code pworker.plugins} system property, each with its own class loader.
     */
    public static PluginRegistry discover() {
        List<InfrastructurePlugin> found = new ArrayList<>();
        ServiceLoader.load(InfrastructurePlugin.class).forEach(found::add);
        found.addAll(PluginDirectory.load(PluginDirectory.fromSystemProperty()));
        return new PluginRegistry(found);
    }

    /** The plugin's own class, also for plugins loaded from their own directory. */
    public static Class<?> pluginClass(InfrastructurePlugin p) {
        return p instanceof IsolatedPlugin isolated ? isolated.pluginClass() : p.getClass();
    }

    public Optional<InfrastructurePlugin> find(String type) {
        return Optional.ofNullable(byType.get(type));
    }

    public List<String> types() {
        return List.copyOf(byType.keySet());
    }

    public List<InfrastructurePlugin> plugins() {
        return List.copyOf(byType.values());
    }

    /** The plugin for {@code type}, or an error that lists what is installed. */
    public InfrastructurePlugin require(String type, String why) throws WorkerException {
        return find(type).orElseThrow(() -> new WorkerException(why + "type '" + type
                + "' is not served by any installed plugin; installed types: " + String.join(", ", types())));
    }
}
