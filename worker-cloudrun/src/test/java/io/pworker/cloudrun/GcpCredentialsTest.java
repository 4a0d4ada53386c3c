package io.pworker.cloudrun;

import static io.pworker.cloudrun.CloudRunFixture.JSON;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.auth.oauth2.GoogleCredentials;
import com.google.auth.oauth2.ServiceAccountCredentials;
import io.pworker.spi.LaunchException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gcp-credentials block, Application Default Credentials, the project, and keys kept out of every text. */
class GcpCredentialsTest {

    private static final ServiceAccountKey KEY = ServiceAccountKey.generate();
    private static final String TOKEN_URI = "http://127.0.0.1:9/token";

    @TempDir
    Path dir;

    private static ObjectNode block(String json) throws Exception {
        return (ObjectNode) JSON.readTree(json);
    }

    private static ObjectNode infoBlock(String project) {
        ObjectNode b = JSON.createObjectNode();
        b.set("service_account_info", KEY.info(TOKEN_URI));
        b.put("project", project);
        return b;
    }

    @Test
    void serviceAccountInfoGivesScopedCredentialsAndTheBlocksProjectWins() throws Exception {
        GcpCredentials source = GcpCredentials.from(infoBlock("other-project"));
        GoogleCredentials c = source.load(Map.of());
        assertThat(c).isInstanceOf(ServiceAccountCredentials.class);
        assertThat(((ServiceAccountCredentials) c).getClientEmail()).isEqualTo(ServiceAccountKey.EMAIL);
        assertThat(((ServiceAccountCredentials) c).getScopes()).containsExactly(GcpCredentials.CLOUD_PLATFORM_SCOPE);
        assertThat(source.projectOr(GcpCredentials.defaultProject(c, Map.of()))).isEqualTo("other-project");
        GcpCredentials noProject = GcpCredentials.from(infoBlock(null));
        assertThat(noProject.projectOr(GcpCredentials.defaultProject(noProject.load(Map.of()), Map.of())))
                .isEqualTo(ServiceAccountKey.PROJECT);
    }

    @Test
    void serviceAccountInfoAsTextAndAsAFileWorkToo() throws Exception {
        ObjectNode text = JSON.createObjectNode().put("service_account_info", KEY.info(TOKEN_URI).toString());
        assertThat(GcpCredentials.from(text).load(Map.of())).isInstanceOf(ServiceAccountCredentials.class);
        Path file = dir.resolve("key.json");
        Files.writeString(file, KEY.info(TOKEN_URI).toString());
        GcpCredentials fromFile = GcpCredentials.from(JSON.createObjectNode().put("service_account_file", file.toString()));
        assertThat(fromFile.load(Map.of())).isInstanceOf(ServiceAccountCredentials.class);
        assertThat(fromFile.cacheKey()).isEqualTo("file:" + file);
    }

    @Test
    void withoutABlockApplicationDefaultCredentialsComeFromTheWorkersEnvironment() throws Exception {
        Path file = dir.resolve("adc.json");
        Files.writeString(file, KEY.info(TOKEN_URI).toString());
        for (ObjectNode empty : new ObjectNode[] {null, block("{}"),
                block("{\"service_account_info\": null, \"service_account_file\": null, \"project\": null}")}) {
            GcpCredentials source = GcpCredentials.from(empty);
            assertThat(source.applicationDefault()).isTrue();
            assertThat(source.cacheKey()).isEqualTo("adc");
            GoogleCredentials c = source.load(Map.of("GOOGLE_APPLICATION_CREDENTIALS", file.toString()));
            assertThat(((ServiceAccountCredentials) c).getClientEmail()).isEqualTo(ServiceAccountKey.EMAIL);
        }
        Path gcloud = Files.createDirectories(dir.resolve("gcloud"));
        Files.copy(file, gcloud.resolve("application_default_credentials.json"));
        assertThat(GcpCredentials.from(null).load(Map.of("CLOUDSDK_CONFIG", gcloud.toString())))
                .isInstanceOf(ServiceAccountCredentials.class);
    }

    @Test
    void theProjectFallsBackToTheWorkersEnvironmentAndIsOtherwiseAClearError() throws Exception {
        GoogleCredentials noProject = GoogleCredentials.create(null);
        assertThat(GcpCredentials.defaultProject(noProject, Map.of("GOOGLE_CLOUD_PROJECT", "env-project"))).isEqualTo("env-project");
        assertThatThrownBy(() -> GcpCredentials.from(null).projectOr(GcpCredentials.defaultProject(noProject, Map.of())))
                .isInstanceOf(LaunchException.class)
                .hasMessage("no Google Cloud project: set 'project' in the gcp-credentials block, use a service account key "
                        + "that has a project_id, or set GOOGLE_CLOUD_PROJECT for the worker");
    }

    @Test
    void badBlocksAreOneLineNamingTheCauseAndNeverTheKey() throws Exception {
        ObjectNode noEmail = infoBlock(null);
        ((ObjectNode) noEmail.get("service_account_info")).remove("client_email");
        ObjectNode badKey = infoBlock(null);
        ((ObjectNode) badKey.get("service_account_info")).put("private_key", KEY.pem().replace("A", "!"));
        ObjectNode both = infoBlock(null).put("service_account_file", "/k.json");
        ObjectNode user = infoBlock(null);
        ((ObjectNode) user.get("service_account_info")).put("type", "authorized_user");
        Map<ObjectNode, String> cases = Map.of(
                noEmail, "service_account_info lacks client_email; paste the whole service account key file",
                both, "sets both service_account_info and service_account_file; keep only one",
                user, "is a 'authorized_user' key; a service account key is needed",
                block("{\"service_account_info\": \"{not json\"}"), "service_account_info is not valid JSON",
                block("{\"service_account_file\": \"" + dir.resolve("missing.json") + "\"}"), "missing.json' does not exist",
                block("{\"project\": 7}"), "project must be a string");
        for (Map.Entry<ObjectNode, String> c : cases.entrySet()) {
            assertThatThrownBy(() -> GcpCredentials.from(c.getKey()).load(Map.of())).as(c.getValue())
                    .isInstanceOf(LaunchException.class).hasMessageContaining(c.getValue())
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n").doesNotContain(KEY.secretPart()));
        }
        assertThatThrownBy(() -> GcpCredentials.from(JSON.readTree("[]"))).isInstanceOf(LaunchException.class)
                .hasMessageContaining("invalid job configuration 'credentials': expected a gcp-credentials block");
        assertThatThrownBy(() -> GcpCredentials.from(badKey).load(Map.of()))
                .isInstanceOf(LaunchException.class).hasMessageContaining("is not a usable Google credential")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(KEY.secretPart()).doesNotContain("PRIVATE KEY"));
    }

    @Test
    void thePrivateKeyIsNeverInTextsOrCacheKeys() throws Exception {
        GcpCredentials source = GcpCredentials.from(infoBlock("p"));
        assertThat(source.toString()).contains(ServiceAccountKey.EMAIL).doesNotContain(KEY.secretPart())
                .doesNotContain("PRIVATE");
        assertThat(source.cacheKey()).startsWith("info:").doesNotContain(KEY.secretPart());
        assertThat(new CloudRunTarget("r", source, false).toString()).doesNotContain(KEY.secretPart());
    }
}
