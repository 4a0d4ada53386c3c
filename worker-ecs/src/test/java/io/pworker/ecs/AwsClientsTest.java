package io.pworker.ecs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.pworker.spi.LaunchException;
import java.io.FileInputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.core.exception.SdkClientException;

/**
 * The client side of {@code aws_client_parameters} and profiles, without AWS: an HTTPS endpoint on 127.0.0.1 with
 * a certificate made here by the JDK's keytool stands in for ECS, so that trust can be tested both ways.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AwsClientsTest {

    @TempDir
    static Path dir;
    private static HttpsServer server;
    private static Path caBundle;

    @BeforeAll
    static void startHttps() throws Exception {
        Path keystore = dir.resolve("server.p12");
        caBundle = dir.resolve("ca.pem");
        keytool("-genkeypair", "-alias", "local", "-keyalg", "EC", "-groupname", "secp256r1", "-dname",
                "CN=127.0.0.1", "-ext", "san=ip:127.0.0.1", "-validity", "2", "-keystore", keystore.toString(),
                "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit");
        keytool("-exportcert", "-rfc", "-alias", "local", "-keystore", keystore.toString(), "-storepass", "changeit",
                "-file", caBundle.toString());
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = new FileInputStream(keystore.toFile())) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf.getKeyManagers(), null, null);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(tls));
        // every call is a DescribeTasks that finds nothing
        server.createContext("/", exchange -> {
            try (exchange) {
                exchange.getRequestBody().readAllBytes();
                byte[] body = "{\"tasks\": [], \"failures\": []}".getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().add("Content-Type", "application/x-amz-json-1.1");
                exchange.sendResponseHeaders(200, body.length);
                exchange.getResponseBody().write(body);
            }
        });
        server.start();
    }

    @AfterAll
    static void stopHttps() {
        if (server != null) {
            server.stop(0);
        }
    }

    private static void keytool(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
    }

    private static AwsSettings settings(Map<String, Object> clientParameters) throws LaunchException {
        ObjectNode block = EcsTestSupport.credentials("https://127.0.0.1:" + server.getAddress().getPort());
        clientParameters.forEach((k, v) -> ((ObjectNode) block.get("aws_client_parameters"))
                .set(k, EcsTestSupport.JSON.valueToTree(v)));
        return AwsSettings.from(block);
    }

    private static int describe(AwsSettings settings) throws LaunchException {
        try (AwsClients aws = AwsClients.connect(settings, Map.of())) {
            return aws.ecs.describeTasks(b -> b.cluster("c").tasks("arn:aws:ecs:us-east-1:1:task/c/x")).tasks().size();
        }
    }

    @Test
    void aCaBundleIsTrustedInsteadOfTheJdksCertificates() throws Exception {
        assertThatThrownBy(() -> describe(settings(Map.of()))).isInstanceOf(SdkClientException.class)
                .hasMessageContaining("PKIX");
        assertThat(describe(settings(Map.of("verify_cert_path", caBundle.toString())))).isZero();
        // the deprecated form: a path in verify
        assertThat(describe(settings(Map.of("verify", caBundle.toString())))).isZero();
        // verify=false trusts anything, and ignores a bundle as boto3 does
        assertThat(describe(settings(Map.of("verify", false, "verify_cert_path", "/nowhere.pem")))).isZero();
    }

    @Test
    void aBundleThatCannotBeReadIsOneClearLine() throws Exception {
        assertThatThrownBy(() -> describe(settings(Map.of("verify_cert_path", "/nowhere/ca.pem"))))
                .isInstanceOf(LaunchException.class)
                .hasMessage("aws_credentials.aws_client_parameters.verify_cert_path '/nowhere/ca.pem': no such "
                        + "readable file");
        Path garbage = Files.writeString(dir.resolve("garbage.pem"), "not a certificate\n");
        assertThatThrownBy(() -> describe(settings(Map.of("verify_cert_path", garbage.toString()))))
                .isInstanceOf(LaunchException.class)
                .hasMessageStartingWith("aws_credentials.aws_client_parameters.verify_cert_path '" + garbage + "': ");
        assertThatThrownBy(() -> settings(Map.of("verify", 3)))
                .hasMessage("invalid job configuration 'aws_credentials.aws_client_parameters.verify': expected true, "
                        + "false or the path of a CA bundle");
    }

    /**
     * A profile with {@code sso_*} settings goes to the SDK's SSO provider (the sso and ssooidc modules are on the
     * class path), which looks for the token that {@code aws sso login} caches; without those modules the SDK says
     * the sso module is missing instead.
     */
    @Test
    void anSsoProfileIsResolvedByTheSdksSsoProvider() throws Exception {
        Path config = Files.writeString(dir.resolve("config"), """
                [profile flows-sso]
                sso_session = corp
                sso_account_id = 123456789012
                sso_role_name = FlowRunner
                region = us-east-1

                [sso-session corp]
                sso_start_url = https://corp.awsapps.example/start
                sso_region = us-east-1
                sso_registration_scopes = sso:account:access
                """);
        ObjectNode block = EcsTestSupport.JSON.createObjectNode().put("profile_name", "flows-sso");
        var provider = AwsClients.baseCredentials(AwsSettings.from(block),
                Map.of("AWS_CONFIG_FILE", config.toString(), "AWS_SHARED_CREDENTIALS_FILE",
                        dir.resolve("none").toString()));
        assertThatThrownBy(provider::resolveCredentials).isInstanceOf(SdkClientException.class)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("class path").contains("aws sso login"));
        ObjectNode unknown = EcsTestSupport.JSON.createObjectNode().put("profile_name", "nosuch");
        assertThatThrownBy(() -> AwsClients.baseCredentials(AwsSettings.from(unknown),
                Map.of("AWS_CONFIG_FILE", config.toString())).resolveCredentials())
                .hasMessageContaining("nosuch");
    }
}
