package io.pworker.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kubernetes.client.openapi.models.V1Job;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import io.pworker.testkit.PrefectTemplates;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The kubernetes type's rules that need no cluster: template shape, manifest checks and preparation (spec §7.3). */
class KubernetesJobConfigurationTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final FlowRunInfo RUN = new FlowRunInfo("0b8f7a9e-5d33-4c1a-9a53-3c1d1c2b0a11", "Tidy Otter",
            "f1", "ETL Flow", "d1", "Nightly Run", "pool", "p1", "worker", List.of());

    private static KubernetesJobConfiguration prepare(String variables) throws Exception {
        return KubernetesJobConfiguration.prepare(Rendered.configuration(RUN, (ObjectNode) JSON.readTree(variables)),
                RUN, "prefecthq/prefect:3.4.25-python3.12");
    }

    private static KubernetesJobConfiguration prepareManifest(String manifest) throws Exception {
        ObjectNode c = Rendered.configuration(RUN, JSON.createObjectNode());
        c.set("job_manifest", JSON.readTree(manifest));
        return KubernetesJobConfiguration.prepare(c, RUN, "img");
    }

    @Test
    void defaultTemplateHasTheShapeOfPrefectsKubernetesTemplate() {
        assertThat(PrefectTemplates.structuralDifferences(new KubernetesPlugin().defaultBaseJobTemplate(),
                PrefectTemplates.prefectDefault("kubernetes"))).isEmpty();
    }

    @Test
    void theDefaultTemplatePreparesAValidJob() throws Exception {
        KubernetesJobConfiguration c = prepare("{}");
        JsonNode m = c.manifest();
        assertThat(c.namespace()).isEqualTo("default");
        assertThat(m.at("/metadata/generateName").asText()).isEqualTo("tidy-otter-");
        JsonNode container = m.at("/spec/template/spec/containers/0");
        assertThat(container.path("image").asText()).isEqualTo("prefecthq/prefect:3.4.25-python3.12");
        assertThat(container.path("imagePullPolicy").asText()).isEqualTo("IfNotPresent");
        assertThat(container.path("args").toString()).isEqualTo("[\"prefect\",\"flow-run\",\"execute\"]");
        assertThat(container.path("env").findValuesAsText("name")).contains("PREFECT__FLOW_RUN_ID",
                KubernetesJobConfiguration.SIGTERM_BEHAVIOR);
        V1Job job = JobManifests.toJob(c.manifest());
        assertThat(job.getSpec().getParallelism()).isEqualTo(1);
        assertThat(job.getSpec().getCompletions()).isEqualTo(1);
        assertThat(job.getSpec().getBackoffLimit()).isZero();
        assertThat(job.getSpec().getTtlSecondsAfterFinished()).isNull();
        assertThat(job.getSpec().getTemplate().getSpec().getServiceAccountName()).isNull();
    }

    @Test
    void labelsAreSlugifiedOnTheJobAndItsPodWithKubernetesAppLabels() throws Exception {
        JsonNode m = prepare("{\"labels\": {\"team/Owner Name\": \"Data Science!\", \"-x-\": \"__ok__\"}}").manifest();
        for (String at : List.of("/metadata/labels", "/spec/template/metadata/labels")) {
            JsonNode labels = m.at(at);
            assertThat(labels.path("team/owner-name").asText()).isEqualTo("data-science");
            assertThat(labels.path("x").asText()).isEqualTo("ok");
            assertThat(labels.path("prefect.io/flow-run-name").asText()).isEqualTo("tidy-otter");
            assertThat(labels.path("prefect.io/flow-run-id").asText()).isEqualTo(RUN.id());
            assertThat(labels.path("app.kubernetes.io/managed-by").asText()).isEqualTo("prefect");
            assertThat(labels.path("app.kubernetes.io/part-of").asText()).isEqualTo("prefect");
            assertThat(labels.path("app.kubernetes.io/version").asText()).isEqualTo("3.4.25");
            assertThat(labels.path("app.kubernetes.io/name").asText()).as("the deployment's name wins")
                    .isEqualTo("nightly-run");
        }
    }

    @ParameterizedTest(name = "label key ''{0}'' becomes ''{1}''")
    @CsvSource({"prefect.io/flow-run-id, prefect.io/flow-run-id", "My Key, my-key", "a.B_c, a.b_c",
            "Example.COM/Some Key, example.com/some-key", "'_-.', '_-.'"})
    void labelKeysFollowKubernetesRules(String key, String expected) {
        assertThat(KubernetesNames.labelKey(key)).isEqualTo(expected);
    }

    @Test
    void labelValuesAreCutAt63Characters() {
        assertThat(KubernetesNames.labelValue("x".repeat(70))).hasSize(63);
        assertThat(KubernetesNames.nameStem("N".repeat(60))).hasSize(45);
        assertThat(KubernetesNames.nameStem("é!")).isEqualTo("e");
        assertThat(KubernetesNames.nameStem("!!")).isNull();
    }

    @Test
    void annotationsAreMergedWithSlugifiedKeysAndCopiedToThePod() throws Exception {
        JsonNode m = prepareManifest("""
                {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"annotations": {"Team Lead": "Ada L."}},
                 "spec": {"template": {"spec": {"parallelism": 1, "completions": 1, "restartPolicy": "Never",
                  "containers": [{"name": "prefect-job"}]}}}}""").manifest();
        assertThat(m.at("/metadata/annotations/team-lead").asText()).isEqualTo("Ada L.");
        assertThat(m.at("/spec/template/metadata/annotations/team-lead").asText()).isEqualTo("Ada L.");
        assertThat(m.at("/metadata/generateName").asText()).as("no generateName in the template").isEqualTo("tidy-otter-");
    }

    @Test
    void hardCodedEnvEntriesStayAfterPrefectsAndSecretReferencesAreKept() throws Exception {
        JsonNode env = prepareManifest("""
                {"apiVersion": "batch/v1", "kind": "Job", "metadata": {},
                 "spec": {"template": {"spec": {"parallelism": 1, "completions": 1, "restartPolicy": "Never",
                  "containers": [{"name": "prefect-job", "env": [
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                    {"name": "PREFECT__FLOW_RUN_ID", "value": "stale"},
                    {"name": "REGION", "value": "eu-west-1"}]}]}}}}""").manifest()
                .at("/spec/template/spec/containers/0/env");
        List<String> names = env.findValuesAsText("name");
        assertThat(names.getFirst()).isEqualTo("PREFECT_API_URL");
        assertThat(names).containsSubsequence("PREFECT__FLOW_RUN_ID", "DB_PASSWORD", "REGION");
        assertThat(names.stream().filter("PREFECT__FLOW_RUN_ID"::equals)).hasSize(1);
        assertThat(env.toString()).doesNotContain("stale").contains("secretKeyRef");
    }

    @ParameterizedTest(name = "backoffLimit {0} sets the SIGTERM behaviour to {1}")
    @CsvSource({"0, reschedule", "2, relinquish"})
    void evictionBehaviourFollowsTheBackoffLimit(int limit, String behaviour) throws Exception {
        JsonNode env = prepareManifest("""
                {"apiVersion": "batch/v1", "kind": "Job", "metadata": {}, "spec": {"backoffLimit": %d, "template":
                 {"spec": {"parallelism": 1, "completions": 1, "restartPolicy": "Never",
                  "containers": [{"name": "prefect-job"}]}}}}""".formatted(limit)).manifest()
                .at("/spec/template/spec/containers/0/env");
        for (JsonNode e : env) {
            if (e.path("name").asText().equals(KubernetesJobConfiguration.SIGTERM_BEHAVIOR)) {
                assertThat(e.path("value").asText()).isEqualTo(behaviour);
                return;
            }
        }
        throw new AssertionError("no " + KubernetesJobConfiguration.SIGTERM_BEHAVIOR + " in " + env);
    }

    @Test
    void aSigtermBehaviourSetByTheUserStaysWhenKubernetesDoesNotRetry() throws Exception {
        JsonNode env = prepare("{\"env\": {\"PREFECT_FLOW_RUN_EXECUTE_SIGTERM_BEHAVIOR\": \"ignore\"}}").manifest()
                .at("/spec/template/spec/containers/0/env");
        assertThat(env.toString()).contains("\"value\":\"ignore\"");
    }

    @ParameterizedTest(name = "command {0} gives args {1}")
    @CsvSource(delimiter = '|', value = {
            "\"python -m 'my flows.main'\" | [\"python\",\"-m\",\"my flows.main\"]",
            "[\"a\", \"b c\"] | [\"a\",\"b c\"]"})
    void commandsBecomeArgs(String command, String args) throws Exception {
        assertThat(prepare("{\"command\": " + command + "}").manifest().at("/spec/template/spec/containers/0/args")
                .toString()).isEqualTo(args);
    }

    @Test
    void manifestsMissingRequiredPartsAreRejectedInPrefectsWords() {
        assertThatThrownBy(() -> prepareManifest("{\"kind\": \"Job\", \"spec\": {\"template\": {\"spec\": "
                + "{\"containers\": []}}}}")).isInstanceOf(LaunchException.class)
                .hasMessage("invalid job configuration 'job_manifest': Job is missing required attributes at the "
                        + "following paths: /apiVersion, /spec/template/spec/completions, /spec/template/spec/containers/0,"
                        + " /spec/template/spec/parallelism, /spec/template/spec/restartPolicy");
        assertThatThrownBy(() -> prepareManifest("""
                {"apiVersion": "batch/v2", "kind": "Job", "spec": {"template": {"spec": {"parallelism": 2,
                 "completions": 1, "restartPolicy": "OnFailure", "containers": [{"name": "main"}]}}}}"""))
                .hasMessage("invalid job configuration 'job_manifest': Job has incompatible values for the following "
                        + "attributes: /apiVersion must have value 'batch/v1', /spec/template/spec/containers/0/name "
                        + "must have value 'prefect-job', /spec/template/spec/parallelism must have value 1, "
                        + "/spec/template/spec/restartPolicy must have value 'Never'");
    }

    @Test
    void unknownFieldsAreNamedWithoutEchoingTheEnvironment() throws Exception {
        ObjectNode c = Rendered.configuration(RUN, (ObjectNode) JSON.readTree("{\"env\": {\"TOKEN\": \"s3cr3t\"}}"));
        ((ObjectNode) c.at("/job_manifest/spec/template/spec/containers/0")).put("imagePulPolicy", "Always");
        KubernetesJobConfiguration prepared = KubernetesJobConfiguration.prepare(c, RUN, "img");
        assertThatThrownBy(() -> JobManifests.toJob(prepared.manifest())).isInstanceOf(LaunchException.class)
                .hasMessageContaining("imagePulPolicy").hasMessageNotContaining("s3cr3t");
    }

    @Test
    void badValuesNameTheirKey() {
        assertThatThrownBy(() -> prepare("{\"command\": \"echo 'unclosed\"}")).hasMessageContaining("'command'");
        assertThatThrownBy(() -> prepare("{\"namespace\": 7}")).hasMessageContaining("'namespace'");
        ObjectNode c = Rendered.configuration(RUN, JSON.createObjectNode());
        c.put("cluster_config", "prod");
        assertThatThrownBy(() -> KubernetesJobConfiguration.prepare(c, RUN, "img")).hasMessageContaining("'cluster_config'");
    }

    @ParameterizedTest(name = "infrastructure_pid ''{0}'' is job {1}/{2}")
    @CsvSource({"default:tidy-otter-x7k2p, default, tidy-otter-x7k2p", "3f2a-uid:flows:etl-abcde, flows, etl-abcde"})
    void infrastructurePidsNameNamespaceAndJob(String pid, String namespace, String name) throws Exception {
        assertThat(JobRef.of(io.pworker.spi.RunHandle.ofPid(pid))).isEqualTo(new JobRef(namespace, name));
    }

    @Test
    void aPidThatIsNoJobIdIsRefused() {
        assertThatThrownBy(() -> JobRef.of(io.pworker.spi.RunHandle.ofPid("4242")))
                .hasMessage("infrastructure_pid '4242' is not a Kubernetes job id (expected '<namespace>:<job name>')");
    }
}
