package io.pworker.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.Capabilities;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructurePlugin;
import io.pworker.spi.PluginContext;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Broken plugins are named and kept out; the others stay usable (and {@code pworker types} keeps working). */
@Timeout(10)
class PluginRegistryTest {

    /** A plugin whose {@code type()} throws, as a plugin with a bug might. */
    public static class ThrowingPlugin implements InfrastructurePlugin {
        @Override
        public String type() {
            throw new IllegalStateException("no type today");
        }

        @Override
        public String workerClassName() {
            return "ThrowingWorker";
        }

        @Override
        public ObjectNode defaultBaseJobTemplate() {
            return null;
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(false, false);
        }

        @Override
        public InfrastructureLauncher create(PluginContext context) {
            throw new UnsupportedOperationException();
        }
    }

    @Test
    void aBrokenServicesEntryIsNamedAndTheOtherPluginsLoad(@TempDir Path dir) throws Exception {
        Path services = Files.createDirectories(dir.resolve("META-INF/services"));
        Files.writeString(services.resolve(InfrastructurePlugin.class.getName()),
                "com.example.NoSuchPlugin\n" + ThrowingPlugin.class.getName() + "\n");
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            PluginRegistry registry = new PluginRegistry(() -> new java.util.Iterator<>() {
                private final java.util.Iterator<InfrastructurePlugin> services =
                        ServiceLoader.load(InfrastructurePlugin.class, loader).iterator();
                private boolean stubGiven;

                @Override
                public boolean hasNext() {
                    return !stubGiven || services.hasNext();
                }

                @Override
                public InfrastructurePlugin next() {
                    if (!stubGiven) {
                        stubGiven = true;
                        return new StubPlugin();
                    }
                    return services.next();
                }
            });
            assertThat(registry.types()).containsExactly("stub");
            assertThat(registry.problems()).hasSize(2)
                    .anySatisfy(p -> assertThat(p).contains("com.example.NoSuchPlugin"))
                    .anySatisfy(p -> assertThat(p).contains(ThrowingPlugin.class.getName()).contains("no type today"));
            assertThatThrownBy(() -> registry.require("docker", ""))
                    .hasMessageContaining("installed types: stub").hasMessageContaining("com.example.NoSuchPlugin");
        }
    }

    @Test
    void twoPluginsForOneTypeAreReportedAndTheFirstIsUsed() {
        StubPlugin first = new StubPlugin();
        InfrastructurePlugin second = new ThrowingPlugin() {
            @Override
            public String type() {
                return "stub";
            }
        };
        PluginRegistry registry = new PluginRegistry(List.of(first, second));
        assertThat(registry.find("stub")).containsSame(first);
        assertThat(registry.problems()).singleElement().asString().contains("two plugins serve type 'stub'");
    }
}
