package io.pworker.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class InfrastructureEventTest {

    @Test
    void labelsAreCopiedInOrderAndCannotBeChanged() {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("prefect.resource.name", "pod-a");
        labels.put("kubernetes.namespace", "default");
        InfrastructureEvent e = InfrastructureEvent.of("prefect.kubernetes.pod.running", "prefect.kubernetes.pod.1", labels);
        labels.put("later", "x");
        assertThat(e.labels()).containsExactly(Map.entry("prefect.resource.name", "pod-a"),
                Map.entry("kubernetes.namespace", "default"));
        assertThatThrownBy(() -> e.labels().put("x", "y")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void mistakesAreNamedWhereThePluginMakesThem() {
        assertThatThrownBy(() -> InfrastructureEvent.of(" ", "r", Map.of())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> InfrastructureEvent.of("e", "r", Map.of("prefect.resource.id", "other")))
                .hasMessageContaining("resourceId");
        assertThatThrownBy(() -> new InfrastructureEvent("e", "r", Map.of(), null, "not-a-uuid"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
