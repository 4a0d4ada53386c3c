package io.pworker.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Plugins in their own directories: found, loaded by their own class loader, called with it as context loader. */
@Timeout(60)
class PluginDirectoryTest {

    @TempDir
    Path tmp;

    /** A plugin whose launcher factory reports the context class loader it was called with through its exception. */
    private static final String SOURCE = """
            package sample;
            public final class SamplePlugin implements io.pworker.spi.InfrastructurePlugin {
                public String type() { return "sample"; }
                public String workerClassName() { return "SampleWorker"; }
                public com.fasterxml.jackson.databind.node.ObjectNode defaultBaseJobTemplate() {
                    return com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
                }
                public io.pworker.spi.Capabilities capabilities() { return new io.pworker.spi.Capabilities(false, true); }
                public io.pworker.spi.InfrastructureLauncher create(io.pworker.spi.PluginContext c)
                        throws io.pworker.spi.InfrastructureException {
                    throw new io.pworker.spi.InfrastructureException(
                            String.valueOf(Thread.currentThread().getContextClassLoader().getName()));
                }
            }
            """;

    @Test
    void aPluginInItsOwnDirectoryGetsItsOwnClassLoaderAndRunsWithIt() throws Exception {
        Path root = tmp.resolve("plugins");
        writePlugin(root.resolve("sample"), "sample.SamplePlugin\n");

        List<InfrastructurePlugin> found = PluginDirectory.load(root);

        assertThat(found).extracting(InfrastructurePlugin::type).containsExactly("sample");
        InfrastructurePlugin plugin = found.getFirst();
        Class<?> own = PluginRegistry.pluginClass(plugin);
        assertThat(own.getName()).isEqualTo("sample.SamplePlugin");
        assertThat(own.getClassLoader()).isNotSameAs(getClass().getClassLoader());
        // the SPI is the core's: one InfrastructurePlugin interface for all
        assertThat(InfrastructurePlugin.class.isAssignableFrom(own)).isTrue();
        PluginContext context = new PluginContext("w", Map.of(), new PrintStream(OutputStream.nullOutputStream()),
                Clock.systemUTC(), tmp);
        assertThatThrownBy(() -> plugin.create(context)).hasMessage("pworker-plugin-sample");
        assertThat(Thread.currentThread().getContextClassLoader()).isNotSameAs(own.getClassLoader());
    }

    @Test
    void aBrokenPluginDirectoryIsSkippedAndTheOthersStillLoad() throws Exception {
        Path root = tmp.resolve("plugins");
        writePlugin(root.resolve("a-broken"), "sample.DoesNotExist\n");
        writePlugin(root.resolve("sample"), "sample.SamplePlugin\n");
        Files.createDirectories(root.resolve("empty"));

        assertThat(PluginDirectory.load(root)).extracting(InfrastructurePlugin::type).containsExactly("sample");
        assertThat(PluginDirectory.load(tmp.resolve("missing"))).isEmpty();
    }

    @Test
    void findingAPluginOpensItsOwnJarAloneNotItsLibraries() throws Exception {
        Path root = tmp.resolve("plugins");
        writePlugin(root.resolve("sample"), "sample.SamplePlugin\n");
        Files.move(root.resolve("sample/sample-plugin.jar"), root.resolve("sample/worker-sample-1.0.jar"));
        // a library sorted before the plugin's jar, which finding the plugin has no reason to open
        Path library = root.resolve("sample/aaa-library.jar");
        try (JarOutputStream jar = new JarOutputStream(Files.newOutputStream(library))) {
            jar.putNextEntry(new JarEntry("lib/Unused.txt"));
            jar.write("unused".getBytes(StandardCharsets.UTF_8));
        }

        assertThat(PluginDirectory.load(root)).extracting(InfrastructurePlugin::type).containsExactly("sample");
        // an opened jar stays open in its class loader, holding its central directory in memory
        List<String> open = new java.util.ArrayList<>();
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            fds.forEach(fd -> {
                try {
                    open.add(Files.readSymbolicLink(fd).toString());
                } catch (IOException gone) {
                    // closed while listing
                }
            });
        }
        assertThat(open).noneMatch(target -> target.endsWith("aaa-library.jar"));
    }

    private void writePlugin(Path dir, String services) throws IOException {
        Path src = tmp.resolve("src-" + dir.getFileName());
        Path classes = tmp.resolve("classes-" + dir.getFileName());
        Files.createDirectories(src.resolve("sample"));
        Files.createDirectories(classes);
        Files.writeString(src.resolve("sample/SamplePlugin.java"), SOURCE);
        int rc = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(),
                "-cp", System.getProperty("java.class.path"), src.resolve("sample/SamplePlugin.java").toString());
        assertThat(rc).isZero();
        Files.createDirectories(dir);
        try (JarOutputStream jar = new JarOutputStream(Files.newOutputStream(dir.resolve("sample-plugin.jar")))) {
            jar.putNextEntry(new JarEntry("sample/SamplePlugin.class"));
            jar.write(Files.readAllBytes(classes.resolve("sample/SamplePlugin.class")));
            jar.putNextEntry(new JarEntry("META-INF/services/io.pworker.spi.InfrastructurePlugin"));
            jar.write(services.getBytes(StandardCharsets.UTF_8));
        }
    }
}
