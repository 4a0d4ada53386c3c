package io.pworker.worker;

import io.pworker.spi.InfrastructurePlugin;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The distribution's {@code plugins/} directory: one subdirectory per plugin holding the plugin's jar and the
 * libraries it needs beyond the core's. Each gets its own class loader, so that the cloud SDKs, which disagree on
 * guava, protobuf, gson, okhttp and netty versions, never meet on one class path. The core's class loader is the
 * parent and is asked first: the SPI, Jackson and SLF4J are the core's, shared with every plugin, and the
 * distribution leaves copies of the core's jars out of the plugin directories.
 */
final class PluginDirectory {

    /** Set by {@code bin/pworker}; absent when running from an IDE or from Maven, where plugins are on the class path. */
    static final String PROPERTY = "pworker.plugins";
    private static final Logger log = LoggerFactory.getLogger(PluginDirectory.class);

    private PluginDirectory() {
    }

    /**
     * The plugins found in each subdirectory of {@code root}, wrapped so that calls into them run with the plugin's
     * class loader as the thread's context class loader (SDKs look up their own services through it).
     */
    static List<InfrastructurePlugin> load(Path root) {
        List<InfrastructurePlugin> out = new ArrayList<>();
        if (root == null || !Files.isDirectory(root)) {
            return out;
        }
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
                ClassLoader loader = classLoader(dir);
                if (loader == null) {
                    continue;
                }
                try {
                    for (ServiceLoader.Provider<InfrastructurePlugin> p : ServiceLoader.load(InfrastructurePlugin.class,
                            loader).stream().toList()) {
                        // the parent's plugins (on the class path) are listed through every child loader too
                        if (p.type().getClassLoader() == loader) {
                            out.add(new IsolatedPlugin(p.get(), loader));
                        }
                    }
                } catch (java.util.ServiceConfigurationError | RuntimeException | LinkageError e) {
                    log.warn("Ignoring the plugin in {}: it cannot be loaded ({})", dir, e.getMessage());
                }
            }
        } catch (IOException e) {
            log.warn("Cannot read the plugin directory {}: {}", root, e.getMessage());
        }
        return out;
    }

    static Path fromSystemProperty() {
        String dir = System.getProperty(PROPERTY);
        return dir == null || dir.isBlank() ? null : Path.of(dir);
    }

    private static ClassLoader classLoader(Path dir) throws IOException {
        List<URL> jars = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path jar : files.filter(f -> f.toString().endsWith(".jar")).sorted().toList()) {
                try {
                    jars.add(jar.toUri().toURL());
                } catch (MalformedURLException e) {
                    log.warn("Ignoring plugin file {}: {}", jar, e.getMessage());
                }
            }
        }
        if (jars.isEmpty()) {
            log.warn("Plugin directory {} holds no jar; ignored", dir);
            return null;
        }
        return new URLClassLoader("pworker-plugin-" + dir.getFileName(), jars.toArray(URL[]::new),
                PluginDirectory.class.getClassLoader());
    }
}
