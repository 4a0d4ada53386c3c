package io.pworker.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.kubernetes.client.openapi.models.V1JobList;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * In-cluster access as a pod has it: the API server's address in the environment, a service account token and the
 * cluster's CA in the service account directory. The fake serves HTTPS with a certificate made by keytool, and the
 * CA file is that certificate, so the connection is verified as in a cluster.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class InClusterAccessTest {

    private static final String KEYTOOL = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();

    @TempDir
    Path dir;

    @Test
    void aPodsServiceAccountTokenAndCaReachTheApiServer() throws Exception {
        Path keystore = dir.resolve("server.p12");
        run(KEYTOOL, "-genkeypair", "-alias", "api", "-keyalg", "EC", "-dname", "CN=kubernetes", "-ext",
                "san=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore", keystore.toString(),
                "-storepass", "changeit");
        Path serviceAccount = Files.createDirectories(dir.resolve("serviceaccount"));
        run(KEYTOOL, "-exportcert", "-rfc", "-alias", "api", "-keystore", keystore.toString(), "-storepass",
                "changeit", "-file", serviceAccount.resolve("ca.crt").toString());
        Files.writeString(serviceAccount.resolve("token"), "sa-token-1234");
        Files.writeString(serviceAccount.resolve("namespace"), "prefect");

        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            ks.load(in, "changeit".toCharArray());
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, "changeit".toCharArray());
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf.getKeyManagers(), null, null);
        try (FakeKubernetes cluster = new FakeKubernetes(new ScriptedKubelet(), tls)) {
            ClusterAccess access = new ClusterAccess(Map.of("KUBERNETES_SERVICE_HOST", "127.0.0.1",
                    "KUBERNETES_SERVICE_PORT", String.valueOf(cluster.port())), serviceAccount, true);
            Cluster c = access.connect(null);
            assertThat(c.description()).isEqualTo("the pod's service account at https://127.0.0.1:" + cluster.port());
            V1JobList jobs = c.batch().listNamespacedJob("default").execute();
            assertThat(jobs.getItems()).isEmpty();
            assertThat(cluster.authorizations()).containsOnly("Bearer sa-token-1234");
        }
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
    }
}
