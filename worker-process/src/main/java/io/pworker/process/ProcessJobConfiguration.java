package io.pworker.process;

import static io.pworker.spi.JobConfigurationFields.bool;
import static io.pworker.spi.JobConfigurationFields.stringMap;
import static io.pworker.spi.JobConfigurationFields.text;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.LaunchException;
import java.util.Map;

/** The process type's job configuration, checked: a wrong type is an error naming the key. */
record ProcessJobConfiguration(String command, Map<String, String> env, String workingDir, boolean streamOutput,
        String name) {

    static ProcessJobConfiguration from(ObjectNode config) throws LaunchException {
        return new ProcessJobConfiguration(
                orDefault(text(config, "command"), "prefect flow-run execute"),
                Map.copyOf(stringMap(config, "env")),
                orDefault(text(config, "working_dir"), null),
                bool(config, "stream_output", true),
                orDefault(text(config, "name"), "flow-run"));
    }

    /** A blank value counts as unset, as an empty template field renders to "". */
    private static String orDefault(String value, String unset) {
        return value == null || value.isBlank() ? unset : value;
    }
}
