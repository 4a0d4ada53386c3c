package io.pworker.worker;

import io.pworker.spi.InfrastructurePlugin;
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
            if (previous != null && previous.getClass() != p.getClass()) {
                throw new IllegalStateException("two plugins serve type '" + p.type() + "': "
                        + previous.getClass().getName() + " and " + p.getClass().getName());
            }
        }
        this.byType = Collections.unmodifiableMap(map);
    }

    public static PluginRegistry discover() {
        return new PluginRegistry(ServiceLoader.load(InfrastructurePlugin.class));
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
