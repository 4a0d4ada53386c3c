package io.pworker.cloudrun;

import static io.pworker.cloudrun.CloudRunFixture.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.cloud.run.v2.Container;
import com.google.cloud.run.v2.EnvVar;
import com.google.cloud.run.v2.Job;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import io.pworker.testkit.PrefectTemplates;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The template and the preparation of a job body, as worker-spec §7.5 lists it. */
class CloudRunJobConfigurationTest {

    private final FlowRunInfo run = CloudRunFixture.run();
    private final CloudRunFixture.Lines log = new CloudRunFixture.Lines();

    private CloudRunJobConfiguration prepare(String overrides) throws LaunchException {
        return CloudRunJobConfiguration.from(CloudRunFixture.configuration(run, null, overrides), log);
    }

    private Container container(String overrides) throws LaunchException {
        return prepare(overrides).job().getTemplate().getTemplate().getContainers(0);
    }

    private static Map<String, String> plainEnv(Container c) {
        Map<String, String> out = new LinkedHashMap<>();
        c.getEnvList().stream().filter(EnvVar::hasValue).forEach(e -> out.put(e.getName(), e.getValue()));
        return out;
    }

    @Test
    void theDefaultTemplateHasTheShapeOfPrefectsCloudRunV2Template() {
        CloudRunPlugin plugin = new CloudRunPlugin();
        assertThat(PrefectTemplates.structuralDifferences(plugin.defaultBaseJobTemplate(),
                PrefectTemplates.prefectDefault("cloud-run-v2"))).isEmpty();
        assertThat(plugin.defaultBaseJobTemplate().at("/variables/properties/region/description").asText())
                .as("descriptions in our own words")
                .isNotEqualTo(PrefectTemplates.prefectDefault("cloud-run-v2").at("/variables/properties/region/description").asText());
        assertThat(plugin.type()).isEqualTo("cloud-run-v2");
        assertThat(plugin.workerClassName()).isEqualTo("CloudRunWorkerV2");
        assertThat(plugin.capabilities().killable()).isTrue();
        assertThat(plugin.capabilities().outlivesWorker()).isTrue();
        assertThat(ServiceLoader.load(io.pworker.spi.InfrastructurePlugin.class).stream()
                .map(p -> p.type().getName())).contains(CloudRunPlugin.class.getName());
    }

    @Test
    void theRunsEnvironmentIsAppendedToTheFirstContainer() throws Exception {
        Container c = container("""
                {"job_body": {"template": {"template": {"containers": [{"image": "gcr.io/p/flows:1",
                  "env": [{"name": "FROM_TEMPLATE", "value": "1"}]}]}}}}""");
        assertThat(c.getEnvList().getFirst().getName()).isEqualTo("FROM_TEMPLATE");
        assertThat(plainEnv(c)).containsEntry("PREFECT_API_URL", "http://127.0.0.1:4200/api")
                .containsEntry("PREFECT__FLOW_RUN_ID", run.id());
    }

    @Test
    void secretsComeFromSecretManagerAndReplacePlainValues() throws Exception {
        Container c = container("""
                {"env": {"PREFECT_API_KEY": "pnu_plain", "PREFECT_API_AUTH_STRING": "u:p", "OTHER": "x"},
                 "env_from_secrets": {"DB_PASSWORD": {"secret": "db-password", "version": "3"}},
                 "prefect_api_key_secret": {"secret": "prefect-api-key", "version": "latest"}}""");
        assertThat(plainEnv(c)).containsEntry("OTHER", "x").containsEntry("PREFECT_API_AUTH_STRING", "u:p")
                .doesNotContainKey("PREFECT_API_KEY");
        Map<String, String> refs = new LinkedHashMap<>();
        c.getEnvList().stream().filter(EnvVar::hasValueSource).forEach(e -> refs.put(e.getName(),
                e.getValueSource().getSecretKeyRef().getSecret() + "@" + e.getValueSource().getSecretKeyRef().getVersion()));
        assertThat(refs).containsExactly(Map.entry("DB_PASSWORD", "db-password@3"), Map.entry("PREFECT_API_KEY", "prefect-api-key@latest"));
        assertThat(log.all()).contains("PREFECT_API_AUTH_STRING reaches the Cloud Run job as a plain environment variable")
                .doesNotContain("PREFECT_API_KEY reaches").doesNotContain("pnu_plain").doesNotContain("u:p");
    }

    @Test
    void aPlainApiKeyIsWarnedAbout() throws Exception {
        container("{\"env\": {\"PREFECT_API_KEY\": \"pnu_plain\"}}");
        assertThat(log.all()).contains("WARN PREFECT_API_KEY reaches the Cloud Run job as a plain environment variable")
                .doesNotContain("pnu_plain");
    }

    @Test
    void labelsFollowGoogleRulesOnJobAndExecutionTemplateAndTheTemplatesOwnWin() throws Exception {
        Job job = prepare("""
                {"labels": {"prefect.io/flow-run-id": "%s", "prefect.io/version": "3.4.25", "Team/Name": "Data Eng",
                            "9lives": "x", "owner": "from-prefect"},
                 "job_body": {"labels": {"owner": "from-template"},
                   "template": {"template": {"containers": [{"image": "i"}]}}}}""".formatted(run.id())).job();
        assertThat(job.getLabelsMap()).containsEntry("prefect_io_flow-run-id", run.id())
                .containsEntry("prefect_io_version", "3_4_25").containsEntry("team_name", "data_eng")
                .containsEntry("l_9lives", "x").containsEntry("owner", "from-template");
        assertThat(job.getTemplate().getLabelsMap()).containsEntry("prefect_io_flow-run-id", run.id())
                .containsEntry("owner", "from-prefect");
    }

    @Test
    void atMost64LabelsAndTheLeastImportantPrefectLabelsGoFirst() {
        Map<String, String> prefect = new LinkedHashMap<>();
        prefect.put("prefect.io/flow-run-id", "id");
        for (int i = 0; i < 70; i++) {
            prefect.put("extra-" + i, "v");
        }
        Map<String, String> template = Map.of("mine", "kept");
        Map<String, String> merged = GcpLabels.merge(prefect, template);
        assertThat(merged).hasSize(64).containsEntry("mine", "kept").containsKey("prefect_io_flow-run-id")
                .containsKey("extra-61").doesNotContainKey("extra-62");
        assertThat(GcpLabels.key("x".repeat(80))).hasSize(63);
    }

    @Test
    void cloudSqlInstancesGetAVolumeAndAMount() throws Exception {
        Job job = prepare("{\"cloudsql_instances\": [\"p:us-central1:db\"]}").job();
        var task = job.getTemplate().getTemplate();
        assertThat(task.getVolumes(0).getName()).isEqualTo("cloudsql");
        assertThat(task.getVolumes(0).getCloudSqlInstance().getInstancesList()).containsExactly("p:us-central1:db");
        assertThat(task.getContainers(0).getVolumeMounts(0).getMountPath()).isEqualTo("/cloudsql");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "{}                                                        | prefect,flow-run,execute",
            "{\"command\": \"python -m 'my flow' --x=1\"}               | python,-m,my flow,--x=1",
            "{\"command\": [\"python\", \"run.py\"]}                    | python,run.py"})
    void commandDefaultsAndStringsAreSplitLikeAShell(String containerOverrides, String expected) throws Exception {
        ObjectNode body = (ObjectNode) JSON.readTree("{\"image\": \"i\"}");
        body.setAll((ObjectNode) JSON.readTree(containerOverrides));
        Container c = container("{\"job_body\": {\"template\": {\"template\": {\"containers\": [" + body + "]}}}}");
        assertThat(c.getCommandList()).containsExactly(expected.split(","));
    }

    @Test
    void argsAsAStringAreSplitAndAMissingImageIsPrefects() throws Exception {
        Container c = container("{\"job_body\": {\"template\": {\"template\": {\"containers\": [{\"args\": \"--a 'b c'\"}]}}}}");
        assertThat(c.getArgsList()).containsExactly("--a", "b c");
        assertThat(c.getImage()).isEqualTo("docker.io/prefecthq/prefect:3.4.25-python3.12");
    }

    @Test
    void timeoutBecomesADurationAndVpcAccessStaysOnlyWithAConnector() throws Exception {
        Job plain = prepare("{\"timeout\": 3600}").job();
        assertThat(plain.getTemplate().getTemplate().getTimeout().getSeconds()).isEqualTo(3600);
        assertThat(plain.getTemplate().getTemplate().hasVpcAccess()).isFalse();
        Job vpc = prepare("""
                {"job_body": {"template": {"template": {"vpcAccess": {"connector": "projects/p/locations/r/connectors/c"},
                  "containers": [{"image": "i"}]}}}}""").job();
        assertThat(vpc.getTemplate().getTemplate().getVpcAccess().getConnector()).isEqualTo("projects/p/locations/r/connectors/c");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "{\"timeout\": 0}                                       | 'timeout': 0 is outside 1..604800",
            "{\"timeout\": \"soon\"}                                | 'timeout': expected whole seconds",
            "{\"region\": \"US Central\"}                           | 'region': 'US Central' is not a region name",
            "{\"job_body\": {\"template\": {}}}                     | template.template.containers must be a list",
            "{\"job_body\": {\"template\": {\"template\": {\"containers\": [{\"image\": \"i\", \"imagePullPolicy\": \"x\"}]}}}} | not a Cloud Run job: Cannot find field: imagePullPolicy",
            "{\"env_from_secrets\": {\"A\": {\"version\": \"1\"}}} | 'env_from_secrets.A': expected {\"secret\"",
            "{\"command\": 42}                                      | 'command': expected a string or a list"})
    void badConfigurationIsOneLineNamingTheCause(String overrides, String message) {
        String full = overrides.contains("\"command\": 42")
                ? "{\"job_body\": {\"template\": {\"template\": {\"containers\": [{\"image\": \"i\", \"command\": 42}]}}}}" : overrides;
        assertThatThrownBy(() -> prepare(full)).isInstanceOf(LaunchException.class).hasMessageContaining(message)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
            "tidy-otter                                   | tidy-otter",
            "Tidy Otter_Übermut!                          | tidy-otter-ubermut",
            "42-flows                                     | flows",
            "***                                          | prefect"})
    void jobNamesAreSlugsWithSevenHexDigitsOfTheRunId(String name, String base) {
        String id = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9";
        assertThat(JobNames.candidates(name, id)).containsExactly(base + "-0a1b2c3", base + "-d4e5f60", base + "-718293a");
        assertThat(JobNames.base("x".repeat(100))).hasSize(JobNames.MAX_BASE);
        assertThat(JobNames.candidates("a".repeat(100), id).getFirst()).hasSize(63);
    }

    @Test
    void theJobBodySentIsAValidJobMessage() throws Exception {
        Job job = prepare("{}").job();
        assertThat(job.getClient()).isEqualTo("prefect");
        assertThat(job.getLaunchStage()).isEqualTo(com.google.api.LaunchStage.BETA);
        assertThat(job.getTemplate().getTemplate().getContainers(0).getResources().getLimitsMap())
                .containsEntry("cpu", "1000m").containsEntry("memory", "512Mi");
        assertThat(List.of(job.getName())).containsExactly("");
    }
}
