package io.pworker.worker;

import io.pworker.spi.InfrastructurePlugin;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The infrastructure plugins found on the class path, by type. A broken plugin (a {@code META-INF/services}
 * entry naming a missing class, a constructor or {@code type()} that throws, two plugins claiming one type) is
 * kept out and listed in {@link #problems()} with its name; the others stay usable.
 */
public final class PluginRegistry {

    private static final Logger log = LoggerFactory.getLogger(PluginRegistry.class);

    private final Map<String, InfrastructurePlugin> byType;
    private final List<String> problems;

    public PluginRegistry(Iterable<InfrastructurePlugin> plugins) {
        Map<String, InfrastructurePlugin> map = new TreeMap<>();
        List<String> found = new ArrayList<>();
        Iterator<InfrastructurePlugin> it = plugins.iterator();
        while (true) {
            InfrastructurePlugin p;
            try {
                if (!it.hasNext()) {
                    break;
                }
                p = it.next();
            } catch (ServiceConfigurationError | LinkageError e) {
                // ServiceLoader's iterator goes on to the next entry after a broken one
                found.add("a plugin could not be loaded: " + e.getMessage());
                continue;
            }
            String type;
            try {
                type = p.type();
            } catch (RuntimeException | LinkageError e) {
                found.add("plugin " + p.getClass().getName() + " failed to report its type: " + e);
                continue;
            }
            InfrastructurePlugin previous = map.putIfAbsent(type, p);
            if (previous != null && pluginClass(previous) != pluginClass(p)) {
                found.add("two plugins serve type '" + type + "': " + pluginClass(previous).getName() + " and "
                        + pluginClass(p).getName() + "; using the first");
            }
        }
        found.forEach(problem -> log.warn("Plugin problem: {}", problem));
        this.byType = Collections.unmodifiableMap(map);
        this.problems = List.copyOf(found);
    }

    /**
     * The plugins on the class path (tests, IDE runs) and, in the distribution, those in the plugin directory
     * named by the {@code pworker.plugins} system property, each with its own class loader.
     */
    public static PluginRegistry discover() {
        ServiceLoader<InfrastructurePlugin> onClassPath = ServiceLoader.load(InfrastructurePlugin.class);
        List<InfrastructurePlugin> inDirectories = PluginDirectory.load(PluginDirectory.fromSystemProperty());
        // lazily, so that the constructor sees (and names) each broken class-path entry on its own
        return new PluginRegistry(() -> new Iterator<>() {
            private final Iterator<InfrastructurePlugin> first = onClassPath.iterator();
            private final Iterator<InfrastructurePlugin> second = inDirectories.iterator();

            @Override
            public boolean hasNext() {
                return first.hasNext() || second.hasNext();
            }

            @Override
            public InfrastructurePlugin next() {
                return first.hasNext() ? first.next() : second.next();
            }
        });
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

    /** What kept plugins out, one line each. */
    public List<String> problems() {
        return problems;
    }

    /** The plugin for {@code type}, or an error that lists what is installed (and what is broken). */
    public InfrastructurePlugin require(String type, String why) throws WorkerException {
        return find(type).orElseThrow(() -> new WorkerException(why + "type '" + type
                + "' is not served by any installed plugin; installed types: " + String.join(", ", types())
                + (problems.isEmpty() ? "" : "; broken plugins: " + String.join("; ", problems))));
    }
}
