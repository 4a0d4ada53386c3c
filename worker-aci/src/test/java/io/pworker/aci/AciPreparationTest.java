package io.pworker.aci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.LaunchException;
import io.pworker.spi.RunHandle;
import io.pworker.testkit.DockerTestEngine;
import io.pworker.testkit.PrefectTemplates;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The default template and prepare_for_flow_run of worker-spec §7.6, without any server. */
class AciPreparationTest {

    private final FlowRunInfo run = new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", null, "etl", null, null,
            "pool", null, "w", List.of());

    private ObjectNode prepared(String variables) throws Exception {
        ObjectNode c = AciTestRuns.configuration(run, variables);
        return ArmTemplate.prepare(AciJobConfiguration.from(c, "fallback:1"), AciTags.of(run));
    }

    private static JsonNode group(ObjectNode template) {
        return template.path("resources").path(0);
    }

    private static JsonNode container(ObjectNode template) {
        return group(template).path("properties").path("containers").path(0).path("properties");
    }

    @Test
    void theDefaultTemplateIsStructurallyPrefects() {
        assertThat(PrefectTemplates.structuralDifferences(new AciPlugin().defaultBaseJobTemplate(),
                PrefectTemplates.prefectDefault("azure-container-instance"))).isEmpty();
        assertThat(new AciPlugin().type()).isEqualTo("azure-container-instance");
    }

    @Test
    void defaultsGiveTheEntrypointThenTheCommandAndSecureValuesForApiSecrets() throws Exception {
        ObjectNode t = prepared("{\"entrypoint\": \"/opt/prefect/entrypoint.sh\", \"command\": null}");
        assertThat(container(t).path("command").toString())
                .isEqualTo("[\"/opt/prefect/entrypoint.sh\",\"prefect\",\"flow-run\",\"execute\"]");
        assertThat(container(t).path("image").asText()).isEqualTo(DockerTestEngine.IMAGE);
        assertThat(container(t).path("resources").path("requests").toString()).isEqualTo("{\"cpu\":1.0,\"memoryInGB\":1.0}");
        JsonNode env = container(t).path("environmentVariables");
        assertThat(env.toString()).contains("{\"name\":\"PREFECT_API_KEY\",\"secureValue\":\"" + AciTestRuns.API_KEY + "\"}")
                .contains("{\"name\":\"PREFECT__FLOW_RUN_ID\",\"value\":\"" + run.id() + "\"}");
        assertThat(group(t).has("identity")).isFalse();
        assertThat(group(t).path("properties").has("imageRegistryCredentials")).isFalse();
        assertThat(FakeAzure.unknownFields((ObjectNode) group(t))).isEmpty();
    }

    @Test
    void commandsAreSplitLikeAShellAndTheAuthStringIsSecureToo() throws Exception {
        ObjectNode t = prepared("{\"command\": \"python -c 'print(1 + 1)'\", \"env\": {\"PREFECT_API_AUTH_STRING\": \"u:p\"}}");
        assertThat(container(t).path("command").toString()).isEqualTo("[\"python\",\"-c\",\"print(1 + 1)\"]");
        assertThat(container(t).path("environmentVariables").toString())
                .contains("{\"name\":\"PREFECT_API_AUTH_STRING\",\"secureValue\":\"u:p\"}");
    }

    @Test
    void everyOptionalSettingLandsWhereTheContainerGroupModelExpectsIt() throws Exception {
        ObjectNode t = prepared("""
                {"identities": ["/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a"],
                 "subnet_ids": ["/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/x"],
                 "dns_servers": ["10.0.0.4", "10.0.0.5"], "gpu_count": 1, "gpu_sku": "V100", "cpu": 2, "memory": 3.5,
                 "image_registry": {"username": "robot", "password": "pw-1", "registry_url": "flows.azurecr.io", "reauth": true}}
                """);
        JsonNode g = group(t);
        assertThat(g.path("identity").toString()).isEqualTo("{\"type\":\"UserAssigned\",\"userAssignedIdentities\":"
                + "{\"/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a\":{}}}");
        assertThat(g.path("properties").path("subnetIds").toString()).isEqualTo(
                "[{\"id\":\"/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/x\"}]");
        assertThat(g.path("properties").path("dnsConfig").toString()).isEqualTo("{\"nameServers\":[\"10.0.0.4\",\"10.0.0.5\"]}");
        assertThat(g.path("properties").path("imageRegistryCredentials").toString())
                .isEqualTo("[{\"server\":\"flows.azurecr.io\",\"username\":\"robot\",\"password\":\"pw-1\"}]");
        assertThat(container(t).path("resources").path("requests").toString())
                .isEqualTo("{\"cpu\":2,\"memoryInGB\":3.5,\"gpu\":{\"count\":1,\"sku\":\"V100\"}}");
        assertThat(FakeAzure.unknownFields((ObjectNode) g)).isEmpty();

        ObjectNode acr = prepared("{\"image_registry\": {\"registry_url\": \"flows.azurecr.io\", \"identity\": \"/id/x\"}}");
        assertThat(group(acr).path("properties").path("imageRegistryCredentials").toString())
                .isEqualTo("[{\"server\":\"flows.azurecr.io\",\"identity\":\"/id/x\"}]");
        assertThat(FakeAzure.unknownFields((ObjectNode) group(acr))).isEmpty();
    }

    @Test
    void groupNamesFollowPrefectAzuresRuleAndFitAnArmDeploymentName() {
        String id = "3c8e0d2a-5b0f-4bb1-9d9b-2f4f6a1c0e11";
        assertThat(GroupName.of("My ETL flow!", id)).isEqualTo("my-etl-flow-" + id);
        assertThat(GroupName.of("a very long flow name indeed, longer than nineteen", id))
                .isEqualTo("a-very-long-flow-na-" + id);
        assertThat(GroupName.of("Café", id)).isEqualTo("cafe-" + id);
        assertThat(GroupName.deploymentName(GroupName.of("x".repeat(80), id))).hasSizeLessThanOrEqualTo(64);
        assertThat(GroupName.fromHandle(RunHandle.ofPid(id + ":etl-" + id))).isEqualTo("etl-" + id);
        assertThatThrownBy(() -> GroupName.fromHandle(RunHandle.ofPid("etl"))).hasMessageContaining("is not '<flow run id>:");
    }

    @Test
    void badInputIsOneLineNamingTheKey() {
        assertThatThrownBy(() -> prepared("{\"resource_group_name\": null}")).isInstanceOf(LaunchException.class)
                .hasMessage("invalid job configuration 'resource_group_name': required, and not set in the work pool or the deployment");
        assertThatThrownBy(() -> prepared("{\"cpu\": \"lots\"}")).hasMessage("invalid job configuration 'cpu': expected a positive number, got \"lots\"");
        assertThatThrownBy(() -> prepared("{\"image_registry\": {\"registry_url\": \"r.io\"}}"))
                .hasMessageContaining("'image_registry': give 'username' and 'password'");
        assertThatThrownBy(() -> prepared("{\"aci_credentials\": {\"client_id\": \"c\", \"client_secret\": \"s3cr3t-value\"}}"))
                .hasMessageContaining("(missing: tenant_id)").hasMessageNotContaining("s3cr3t-value");
        ObjectNode noGroup = AciTestRuns.configuration(run, "{}");
        noGroup.putObject("arm_template").putArray("resources");
        assertThatThrownBy(() -> ArmTemplate.prepare(AciJobConfiguration.from(noGroup, "x"), java.util.Map.of()))
                .hasMessageStartingWith("invalid job configuration 'arm_template': resources[0] must be an object");
    }

    @Test
    void theGroupIsTaggedWithTheRunPoolAndWorkerBesideTheTemplatesOwnTags() throws Exception {
        FlowRunInfo pooled = new FlowRunInfo(UUID.randomUUID().toString(), "tidy-otter", null, "etl", null, null,
                "pool", "0b6c1b9e-0000-4000-8000-0000000000aa", "aci worker 1", List.of());
        ObjectNode c = AciTestRuns.configuration(pooled, "{}");
        ((ObjectNode) c.at("/arm_template/resources/0")).putObject("tags").put("team", "data")
                .put(AciTags.WORKER_NAME, "the template's");
        JsonNode tags = group(ArmTemplate.prepare(AciJobConfiguration.from(c, "x"), AciTags.of(pooled))).path("tags");
        assertThat(tags.path(AciTags.FLOW_RUN_ID).asText()).isEqualTo(pooled.id());
        assertThat(tags.path(AciTags.WORK_POOL_ID).asText()).isEqualTo(pooled.workPoolId());
        assertThat(tags.path(AciTags.WORKER_NAME).asText()).as("the template's own tags win").isEqualTo("the template's");
        assertThat(tags.path("team").asText()).isEqualTo("data");
        tags.fieldNames().forEachRemaining(name -> assertThat(name).as("Azure refuses these in tag names")
                .doesNotContainAnyWhitespaces().doesNotContain("/", "<", ">", "%", "&", "\\", "?"));
    }

    @Test
    void secretsStayOutOfTheConfigurationsStrings() throws Exception {
        AciJobConfiguration c = AciJobConfiguration.from(AciTestRuns.configuration(run,
                "{\"image_registry\": {\"username\": \"robot\", \"password\": \"pw-77\", \"registry_url\": \"r.io\"}}"), "x");
        assertThat(c + " " + c.credentials() + " " + c.imageRegistry())
                .doesNotContain(AciTestRuns.CLIENT_SECRET).doesNotContain("pw-77").doesNotContain(AciTestRuns.API_KEY)
                .doesNotContain("sub-0001");
    }
}
