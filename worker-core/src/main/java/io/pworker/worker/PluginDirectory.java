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
                try {
                    out.addAll(loadDirectory(dir));
                } catch (java.util.ServiceConfigurationError | ReflectiveOperationException | RuntimeException
                        | LinkageError e) {
                    log.warn("Ignoring the plugin in {}: it cannot be loaded ({})", dir, e.getMessage());
                }
            }
        } catch (IOException e) {
            log.warn("Cannot read the plugin directory {}: {}", root, e.getMessage());
        }
        return out;
    }

    /**
     * The plugins of one directory. The providers are read from the service file of the plugin's own jar, which
     * comes first on the loader's path, so that finding a plugin opens that jar alone: a class loader keeps every
     * jar it opened open, with its central directory on the heap, and the cloud SDKs' ~140 jars hold ~8 MiB of
     * them (measured on an idle process worker). The libraries are opened when a class of theirs is first needed,
     * that is when the plugin is used. A directory without such a jar is searched by a service loader.
     */
    private static List<InfrastructurePlugin> loadDirectory(Path dir) throws IOException, ReflectiveOperationException {
        List<Path> jars;
        try (Stream<Path> files = Files.list(dir)) {
            jars = files.filter(f -> f.toString().endsWith(".jar")).sorted().toList();
        }
        if (jars.isEmpty()) {
            log.warn("Plugin directory {} holds no jar; ignored", dir);
            return List.of();
        }
        for (Path jar : jars) {
            if (!jar.getFileName().toString().startsWith("worker-")) {
                continue;
            }
            List<String> providers = providers(jar);
            if (!providers.isEmpty()) {
                List<Path> ordered = new ArrayList<>(List.of(jar));
                jars.stream().filter(j -> !j.equals(jar)).forEach(ordered::add);
                ClassLoader loader = classLoader(dir, ordered);
                List<InfrastructurePlugin> out = new ArrayList<>();
                for (String name : providers) {
                    Class<?> type = Class.forName(name, false, loader);
                    if (type.getClassLoader() == loader && InfrastructurePlugin.class.isAssignableFrom(type)) {
                        out.add(new IsolatedPlugin((InfrastructurePlugin) type.getConstructor().newInstance(), loader));
                    }
                }
                return out;
            }
        }
        ClassLoader loader = classLoader(dir, jars);
        List<InfrastructurePlugin> out = new ArrayList<>();
        for (ServiceLoader.Provider<InfrastructurePlugin> p : ServiceLoader.load(InfrastructurePlugin.class,
                loader).stream().toList()) {
            // the parent's plugins (on the class path) are listed through every child loader too
            if (p.type().getClassLoader() == loader) {
                out.add(new IsolatedPlugin(p.get(), loader));
            }
        }
        return out;
    }

    /** The provider classes named in a jar's service file for plugins, in order; the jar is closed again. */
    private static List<String> providers(Path jar) throws IOException {
        try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(jar.toFile())) {
            java.util.zip.ZipEntry entry = zip.getEntry("META-INF/services/" + InfrastructurePlugin.class.getName());
            if (entry == null) {
                return List.of();
            }
            List<String> names = new ArrayList<>();
            try (var in = zip.getInputStream(entry)) {
                for (String line : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\\R")) {
                    String name = line.replaceFirst("#.*", "").strip();
                    if (!name.isEmpty() && !names.contains(name)) {
                        names.add(name);
                    }
                }
            }
            return names;
        }
    }

    static Path fromSystemProperty() {
        String dir = System.getProperty(PROPERTY);
        return dir == null || dir.isBlank() ? null : Path.of(dir);
    }

    private static ClassLoader classLoader(Path dir, List<Path> jars) {
        List<URL> urls = new ArrayList<>();
        for (Path jar : jars) {
            try {
                urls.add(jar.toUri().toURL());
            } catch (MalformedURLException e) {
                log.warn("Ignoring plugin file {}: {}", jar, e.getMessage());
            }
        }
        return new URLClassLoader("pworker-plugin-" + dir.getFileName(), urls.toArray(URL[]::new),
                PluginDirectory.class.getClassLoader());
    }
}
