package io.pworker.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Prefect's template rules (worker-spec §2.3–2.4), one case per rule. Test names say {@code keepsQuirk} for
 * Prefect behaviour we reproduce although it surprises, and {@code deviates} where we do not.
 */
@Timeout(20)
class JobTemplateRendererTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text.replace('\'', '"'));
        } catch (Exception e) {
            throw new IllegalArgumentException(text, e);
        }
    }

    /** Blocks: secret/token → {"value": "s3cr3t"}, docker-registry-credentials/main → object, by id "b-1". */
    static final class MapResolver implements PlaceholderResolver {
        final AtomicInteger calls = new AtomicInteger();
        final Map<String, JsonNode> blocks = new HashMap<>(Map.of(
                "secret/token", json("{'value': 's3cr3t'}"),
                "json/settings", json("{'value': {'region': 'eu', 'zones': ['a', 'b']}}"),
                "docker-registry-credentials/main", json("{'username': 'u', 'password': 'p', 'registry_url': 'r.io'}")));
        final Map<String, JsonNode> byId = Map.of("b-1", json("{'username': 'ref-user', 'password': 'x'}"));
        final Map<String, JsonNode> variables = Map.of("team", json("'data'"), "replicas", json("3"),
                "nested", json("'{{ prefect.blocks.secret.token }}'"), "config", json("{'a': [1, 2]}"));

        @Override
        public JsonNode blockDocument(String id) throws TemplateException {
            calls.incrementAndGet();
            JsonNode d = byId.get(id);
            if (d == null) {
                throw new TemplateException("Block document not found: " + id);
            }
            return d;
        }

        @Override
        public JsonNode block(String slug, String name) throws TemplateException {
            calls.incrementAndGet();
            JsonNode d = blocks.get(slug + "/" + name);
            if (d == null) {
                throw new TemplateException("Block not found: '" + name + "' of type '" + slug + "'");
            }
            return d;
        }

        @Override
        public Optional<JsonNode> variable(String name) {
            calls.incrementAndGet();
            return Optional.ofNullable(variables.get(name));
        }
    }

    private static JsonNode render(String template, String jobVariables) throws TemplateException {
        return new JobTemplateRenderer(Map.of("HOME_DIR", "/home/w"))
                .render(json(template), (ObjectNode) json(jobVariables), new MapResolver());
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("wholePlaceholderKeepsTheValuesType",
                        "{'job_configuration': {'n': '{{ n }}', 'b': '{{ b }}', 'o': '{{ o }}', 'l': '{{ l }}'}, 'variables': {}}",
                        "{'n': 2, 'b': true, 'o': {'k': [1]}, 'l': ['x']}",
                        "{'n': 2, 'b': true, 'o': {'k': [1]}, 'l': ['x']}"),
                Arguments.of("whitespaceInsideBracesIsOptional",
                        "{'job_configuration': {'a': '{{a}}', 'b': '{{   a   }}'}, 'variables': {}}", "{'a': 1}",
                        "{'a': 1, 'b': 1}"),
                Arguments.of("missingWholeValueRemovesTheKey",
                        "{'job_configuration': {'image': '{{ image }}', 'ns': '{{ ns }}'}, 'variables': {}}",
                        "{'image': 'repo/x:1'}", "{'image': 'repo/x:1'}"),
                Arguments.of("missingWholeValueDropsTheListElement",
                        "{'job_configuration': {'args': ['a', '{{ missing }}', '{{ b }}']}, 'variables': {}}",
                        "{'b': 'B'}", "{'args': ['a', 'B']}"),
                Arguments.of("explicitNullKeepsTheKey",
                        "{'job_configuration': {'x': '{{ x }}'}, 'variables': {}}", "{'x': null}", "{'x': null}"),
                Arguments.of("embeddedPlaceholdersBecomeText",
                        "{'job_configuration': {'tag': 'v{{ cpu }}-{{ name }}', 'flag': 'on={{ b }}', 'f': 'x{{ f }}', 'z': 'n={{ z }}'}, 'variables': {}}",
                        "{'cpu': 2, 'name': 'etl', 'b': true, 'f': 1.0, 'z': null}",
                        "{'tag': 'v2-etl', 'flag': 'on=True', 'f': 'x1.0', 'z': 'n=None'}"),
                Arguments.of("keepsQuirk_missingEmbeddedValueBecomesEmpty",
                        "{'job_configuration': {'name': '{{ name }}-'}, 'variables': {}}", "{}", "{'name': '-'}"),
                Arguments.of("deviates_embeddedListsAndObjectsRenderAsJsonNotPythonRepr",
                        "{'job_configuration': {'s': 'args={{ l }} opts={{ o }}'}, 'variables': {}}",
                        "{'l': ['a', 'b'], 'o': {'k': 1}}", "{'s': 'args=[\\'a\\',\\'b\\'] opts={\\'k\\':1}'}"),
                Arguments.of("pathsNavigateObjectsAndLists",
                        "{'job_configuration': {'x': '{{ a.b[1].c }}', 'y': 'at {{ a.b[0] }}'}, 'variables': {}}",
                        "{'a': {'b': ['zero', {'c': 'deep'}]}}", "{'x': 'deep', 'y': 'at zero'}"),
                Arguments.of("nestedStructuresAreRenderedThroughout",
                        "{'job_configuration': {'spec': {'containers': [{'image': '{{ image }}', 'env': [{'name': 'A', 'value': '{{ a }}'}]}]}}, 'variables': {}}",
                        "{'image': 'i', 'a': 'x'}",
                        "{'spec': {'containers': [{'image': 'i', 'env': [{'name': 'A', 'value': 'x'}]}]}}"),
                Arguments.of("nonStringLiteralsAreUnchanged",
                        "{'job_configuration': {'n': 1, 'b': false, 'z': null, 's': 'plain'}, 'variables': {}}", "{}",
                        "{'n': 1, 'b': false, 'z': null, 's': 'plain'}"),
                Arguments.of("environmentPlaceholdersReadTheWorkersEnvironment",
                        "{'job_configuration': {'h': '{{ $HOME_DIR }}/x', 'u': 'u={{ $UNSET_ONE }}'}, 'variables': {}}", "{}",
                        "{'h': '/home/w/x', 'u': 'u='}"),
                Arguments.of("defaultsApplyAndJobVariablesWin",
                        "{'job_configuration': {'a': '{{ a }}', 'b': '{{ b }}'}, 'variables': {'properties': {'a': {'default': 1}, 'b': {'default': 2}}}}",
                        "{'b': 3}", "{'a': 1, 'b': 3}"),
                Arguments.of("aNullDefaultIsNoValue",
                        "{'job_configuration': {'a': '{{ a }}'}, 'variables': {'properties': {'a': {'default': null}}}}",
                        "{}", "{}"),
                Arguments.of("envLiteralThenDefaultThenJobVariablesMergedByKey",
                        "{'job_configuration': {'env': {'LIT': '1', 'D': 'lit', 'J': 'lit'}}, 'variables': {'properties': {'env': {'default': {'D': 'def', 'J': 'def', 'DEF': '2'}}}}}",
                        "{'env': {'J': 'job', 'JOB': '3'}}",
                        "{'env': {'LIT': '1', 'D': 'def', 'J': 'job', 'DEF': '2', 'JOB': '3'}}"),
                Arguments.of("envPlaceholderWithDefaultBecomesTheDefaultThenMergesJobVariables",
                        "{'job_configuration': {'env': '{{ env }}'}, 'variables': {'properties': {'env': {'default': {'D': 'def', 'J': 'def'}}}}}",
                        "{'env': {'J': 'job'}}", "{'env': {'D': 'def', 'J': 'job'}}"),
                Arguments.of("envPlaceholderWithoutDefaultIsTheJobVariable",
                        "{'job_configuration': {'env': '{{ env }}'}, 'variables': {'properties': {'env': {'type': 'object'}}}}",
                        "{'env': {'A': '1'}}", "{'env': {'A': '1'}}"),
                Arguments.of("keepsQuirk_listFormEnvReplacesInsteadOfMerging",
                        "{'job_configuration': {'env': '{{ env }}'}, 'variables': {'properties': {'env': {}}}}",
                        "{'env': [{'name': 'A', 'value': '1'}]}", "{'env': [{'name': 'A', 'value': '1'}]}"),
                Arguments.of("blockReferenceObjectsAreReplacedByTheBlocksData",
                        "{'job_configuration': {'creds': '{{ registry_credentials }}'}, 'variables': {}}",
                        "{'registry_credentials': {'$ref': {'block_document_id': 'b-1'}}}",
                        "{'creds': {'username': 'ref-user', 'password': 'x'}}"),
                Arguments.of("blockPlaceholderWholeValueKeepsTypeAndUnwrapsValue",
                        "{'job_configuration': {'token': '{{ prefect.blocks.secret.token }}', 'creds': '{{ prefect.blocks.docker-registry-credentials.main }}', 'zones': '{{ prefect.blocks.json.settings.zones }}'}, 'variables': {}}",
                        "{}", "{'token': 's3cr3t', 'creds': {'username': 'u', 'password': 'p', 'registry_url': 'r.io'}, 'zones': ['a', 'b']}"),
                Arguments.of("blockPlaceholderWithAValuePathIsNotUnwrapped",
                        "{'job_configuration': {'v': '{{ prefect.blocks.json.settings.value.region }}'}, 'variables': {}}",
                        "{}", "{'v': 'eu'}"),
                Arguments.of("embeddedBlockScalarsBecomeText",
                        "{'job_configuration': {'auth': 'Bearer {{ prefect.blocks.secret.token }} for {{ prefect.blocks.docker-registry-credentials.main.username }}'}, 'variables': {}}",
                        "{}", "{'auth': 'Bearer s3cr3t for u'}"),
                Arguments.of("jobVariableValuesMayHoldBlockAndVariablePlaceholders",
                        "{'job_configuration': {'image': '{{ image }}', 'team': '{{ team }}'}, 'variables': {}}",
                        "{'image': 'r/{{ prefect.blocks.secret.token }}', 'team': '{{ prefect.variables.team }}'}",
                        "{'image': 'r/s3cr3t', 'team': 'data'}"),
                Arguments.of("variablesWholeKeepTypeAndEmbeddedBecomeText",
                        "{'job_configuration': {'r': '{{ prefect.variables.replicas }}', 'c': '{{ prefect.variables.config }}', 's': 'team-{{ prefect.variables.team }}'}, 'variables': {}}",
                        "{}", "{'r': 3, 'c': {'a': [1, 2]}, 's': 'team-data'}"),
                Arguments.of("keepsQuirk_missingVariableBecomesEmptyStringEvenAsWholeValue",
                        "{'job_configuration': {'w': '{{ prefect.variables.nope }}', 'e': 'x{{ prefect.variables.nope }}y'}, 'variables': {}}",
                        "{}", "{'w': '', 'e': 'xy'}"),
                Arguments.of("keepsQuirk_blockPlaceholderInsideAVariableIsNotResolved",
                        "{'job_configuration': {'n': '{{ prefect.variables.nested }}'}, 'variables': {}}",
                        "{}", "{'n': '{{ prefect.blocks.secret.token }}'}"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void rendersLikePrefect(String rule, String template, String jobVariables, String expected) throws Exception {
        assertThat(render(template, jobVariables)).isEqualTo(json(expected));
    }

    static Stream<Arguments> errors() {
        return Stream.of(
                Arguments.of("missingBlockNamesTypeAndName", "{{ prefect.blocks.secret.gone }}", "'gone' of type 'secret'"),
                Arguments.of("blockPlaceholderNeedsTypeAndName", "{{ prefect.blocks.secret }}", "must name a block type and a block"),
                Arguments.of("missingKeypathIsAnError", "{{ prefect.blocks.docker-registry-credentials.main.nope }}", "Could not resolve the keypath 'nope'"),
                Arguments.of("objectBlockCannotBeEmbedded", "x {{ prefect.blocks.docker-registry-credentials.main }}", "cannot be placed inside a longer string"),
                Arguments.of("missingBlockReferenceIsAnError", "{{ ref }}", "b-2"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("errors")
    void blockErrorsNameTheCause(String rule, String value, String message) {
        String template = "{'job_configuration': {'x': '" + value + "'}, 'variables': {}}";
        assertThatThrownBy(() -> render(template, "{'ref': {'$ref': {'block_document_id': 'b-2'}}}"))
                .isInstanceOf(TemplateException.class).hasMessageContaining(message);
    }

    @Test
    void lookupsAreCachedWithinOneRendering() throws Exception {
        MapResolver resolver = new MapResolver();
        new JobTemplateRenderer(Map.of()).render(json("{'job_configuration': {'a': '{{ prefect.blocks.secret.token }}', "
                + "'b': '{{ prefect.blocks.secret.token }}', 'c': '{{ prefect.variables.team }}', 'd': '{{ prefect.variables.team }}'}}"),
                (ObjectNode) json("{}"), resolver);
        assertThat(resolver.calls.get()).isEqualTo(2);
    }

    @Test
    void inputsAreNotModified() throws Exception {
        JsonNode template = json("{'job_configuration': {'env': {'A': '1'}, 'x': '{{ x }}'}, 'variables': {'properties': {'env': {'default': {'B': '2'}}}}}");
        ObjectNode vars = (ObjectNode) json("{'env': {'C': '3'}, 'x': [1]}");
        JsonNode templateCopy = template.deepCopy();
        JsonNode varsCopy = vars.deepCopy();
        new JobTemplateRenderer(Map.of()).render(template, vars, new MapResolver());
        assertThat(template).isEqualTo(templateCopy);
        assertThat(vars).isEqualTo(varsCopy);
    }

    @Test
    void pythonFloatsLikePythonsRepr() {
        assertThat(Placeholders.pythonFloat(1.0)).isEqualTo("1.0");
        assertThat(Placeholders.pythonFloat(2.5)).isEqualTo("2.5");
        assertThat(Placeholders.pythonFloat(0.1)).isEqualTo("0.1");
        assertThat(Placeholders.pythonFloat(1e-5)).isEqualTo("1e-05");
        assertThat(Placeholders.pythonFloat(12345678.0)).isEqualTo("12345678.0");
        assertThat(Placeholders.pythonFloat(1e16)).isEqualTo("1e+16");
        assertThat(Placeholders.pythonFloat(-0.0001)).isEqualTo("-0.0001");
    }

    @Test
    void rendersPrefectsRealProcessAndDockerTemplates() throws Exception {
        JsonNode process = io.pworker.testkit.PrefectTemplates.prefectDefault("process");
        JsonNode rendered = new JobTemplateRenderer(Map.of()).render(process,
                (ObjectNode) json("{'env': {'A': '1'}, 'command': 'python flow.py'}"), new MapResolver());
        assertThat(rendered).isEqualTo(json("{'command': 'python flow.py', 'env': {'A': '1'}, 'stream_output': true}"));

        JsonNode docker = io.pworker.testkit.PrefectTemplates.prefectDefault("docker");
        JsonNode d = new JobTemplateRenderer(Map.of()).render(docker, (ObjectNode) json(
                "{'image': 'repo/flows:1', 'volumes': ['/data:/data:ro'], 'registry_credentials': {'$ref': {'block_document_id': 'b-1'}}}"),
                new MapResolver());
        assertThat(d).isEqualTo(json("{'image': 'repo/flows:1', 'volumes': ['/data:/data:ro'], 'auto_remove': false, "
                + "'stream_output': true, 'privileged': false, 'registry_credentials': {'username': 'ref-user', 'password': 'x'}}"));
    }
}
