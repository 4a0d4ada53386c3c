package io.pworker.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

class JobConfigurationFieldsTest {

    private static ObjectNode json(String text) throws Exception {
        return (ObjectNode) new ObjectMapper().readTree(text.replace('\'', '"'));
    }

    @Test
    void unsetAndNullReadAsUnset() throws Exception {
        ObjectNode c = json("{'a': null}");
        assertThat(JobConfigurationFields.text(c, "a")).isNull();
        assertThat(JobConfigurationFields.text(c, "missing")).isNull();
        assertThat(JobConfigurationFields.bool(c, "a", true)).isTrue();
        assertThat(JobConfigurationFields.strings(c, "a")).isEmpty();
        assertThat(JobConfigurationFields.stringMap(c, "a")).isEmpty();
    }

    @Test
    void mapsKeepOrderDropNullsAndTakeScalarsAsText() throws Exception {
        ObjectNode c = json("{'env': {'B': '2', 'A': 1, 'GONE': null, 'FLAG': true}}");
        assertThat(JobConfigurationFields.stringMap(c, "env")).containsExactly(
                java.util.Map.entry("B", "2"), java.util.Map.entry("A", "1"), java.util.Map.entry("FLAG", "true"));
    }

    @Test
    void wrongShapesNameTheKeyAndWhatWasExpected() throws Exception {
        ObjectNode c = json("{'s': 3, 'b': 'yes', 'l': ['x', 1], 'm': []}");
        assertThatThrownBy(() -> JobConfigurationFields.text(c, "s")).isInstanceOf(LaunchException.class)
                .hasMessage("invalid job configuration 's': expected a string, got 3");
        assertThatThrownBy(() -> JobConfigurationFields.bool(c, "b", false))
                .hasMessage("invalid job configuration 'b': expected true or false, got \"yes\"");
        assertThatThrownBy(() -> JobConfigurationFields.strings(c, "l"))
                .hasMessage("invalid job configuration 'l': expected a list of strings, got 1");
        assertThatThrownBy(() -> JobConfigurationFields.stringMap(c, "m"))
                .hasMessage("invalid job configuration 'm': expected an object, got []");
    }
}
