package io.pworker.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Job-variable merging (worker-spec §2.3) and validation against a pool's variables schema. */
@Timeout(20)
class JobVariablesTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text.replace('\'', '"'));
        } catch (Exception e) {
            throw new IllegalArgumentException(text, e);
        }
    }

    static Stream<Arguments> merges() {
        return Stream.of(
                Arguments.of("flowRunWinsPerTopLevelKey", "{'image': 'a', 'cpu': 1}", "{'image': 'b'}", "{'image': 'b', 'cpu': 1}"),
                Arguments.of("nonEnvObjectsAreReplacedNotMerged", "{'labels': {'a': '1'}}", "{'labels': {'b': '2'}}", "{'labels': {'b': '2'}}"),
                Arguments.of("envObjectsMergeWithTheRunWinning", "{'env': {'A': '1', 'B': '1'}}", "{'env': {'B': '2'}}", "{'env': {'A': '1', 'B': '2'}}"),
                Arguments.of("runEnvReplacesAListFormDeploymentEnv", "{'env': [{'name': 'A'}]}", "{'env': {'B': '2'}}", "{'env': {'B': '2'}}"),
                Arguments.of("dottedKeysExpand", "{'env.FOO': 'bar'}", "{}", "{'env': {'FOO': 'bar'}}"),
                Arguments.of("bracketsActLikeDots", "{'a[0]': 'x'}", "{}", "{'a': {'0': 'x'}}"),
                Arguments.of("plainKeysWinOverDottedOnes", "{'env.A': 'dotted', 'env.B': 'dotted', 'env': {'A': 'plain'}}", "{}",
                        "{'env': {'A': 'plain', 'B': 'dotted'}}"),
                Arguments.of("dottedRunEnvMergesIntoDeploymentEnv", "{'env': {'A': '1'}}", "{'env.B': '2'}", "{'env': {'A': '1', 'B': '2'}}"),
                Arguments.of("nullsAreEmpty", "null", "null", "{}"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("merges")
    void mergesLikePrefect(String rule, String deployment, String run, String expected) {
        assertThat(JobVariables.merge(json(deployment), json(run))).isEqualTo(json(expected));
    }

    private static final JsonNode DOCKER = readDocker();

    private static JsonNode readDocker() {
        return io.pworker.testkit.PrefectTemplates.prefectDefault("docker");
    }

    static Stream<Arguments> violations() {
        return Stream.of(
                Arguments.of("wrongType", "{'stream_output': 'yes'}", "job variable 'stream_output'"),
                Arguments.of("enumViolation", "{'image_pull_policy': 'Sometimes'}", "job variable 'image_pull_policy'"),
                Arguments.of("wrongItemType", "{'volumes': ['/a:/a', 3]}", "job variable 'volumes' at"),
                Arguments.of("wrongTypeInsideADefinition", "{'registry_credentials': {'username': 5, 'password': 'p', 'registry_url': 'r'}}",
                        "job variable 'registry_credentials'"),
                Arguments.of("envValueMustBeAString", "{'env': {'A': 1}}", "job variable 'env'"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("violations")
    void violationsNameTheVariable(String rule, String vars, String message) {
        List<String> found = new JobVariablesValidator().validate(DOCKER, (ObjectNode) json(vars));
        assertThat(found).isNotEmpty();
        assertThat(found.getFirst()).contains(message);
    }

    @Test
    void valuesResolvedLaterAreNotJudged() {
        JobVariablesValidator v = new JobVariablesValidator();
        assertThat(v.validate(DOCKER, (ObjectNode) json("{'registry_credentials': {'$ref': {'block_document_id': 'x'}},"
                + " 'privileged': '{{ prefect.variables.privileged }}', 'image': 'a', 'unknown_key': 1}"))).isEmpty();
    }

    @Test
    void closedSchemasRejectUnknownVariables() {
        JsonNode template = json("{'job_configuration': {}, 'variables': {'type': 'object', 'additionalProperties': false,"
                + " 'properties': {'a': {'type': 'string'}}}}");
        assertThat(new JobVariablesValidator().validate(template, (ObjectNode) json("{'b': 1}")))
                .singleElement().asString().contains("'b'");
    }

    @Test
    void malformedTemplatesAreExplained() {
        JobVariablesValidator v = new JobVariablesValidator();
        assertThatThrownBy(() -> v.checkTemplate(json("[]"))).hasMessageContaining("JSON object");
        assertThatThrownBy(() -> v.checkTemplate(json("{'variables': {}}"))).hasMessageContaining("'job_configuration'");
        assertThatThrownBy(() -> v.checkTemplate(json("{'job_configuration': {}, 'variables': 3}"))).hasMessageContaining("'variables'");
        assertThatThrownBy(() -> v.checkTemplate(json("{'job_configuration': {}, 'variables': {'properties': []}}")))
                .hasMessageContaining("properties");
    }
}
