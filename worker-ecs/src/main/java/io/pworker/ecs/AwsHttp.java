package io.pworker.ecs;

import io.pworker.spi.LaunchException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Collection;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.http.SdkHttpClient;
import software.amazon.awssdk.http.SdkHttpConfigurationOption;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.utils.AttributeMap;

/** The HTTP client the AWS clients of one set of {@link AwsSettings} share, with its TLS trust. */
final class AwsHttp {

    private static final Logger log = LoggerFactory.getLogger(AwsHttp.class);

    private AwsHttp() {
    }

    /**
     * The HTTP client: the JDK's trust store, or the CA bundle's certificates instead (as boto3 uses a
     * {@code verify} path), or no certificate checks at all when {@code verify} is false.
     */
    static SdkHttpClient client(AwsSettings settings, Duration attemptTimeout) throws LaunchException {
        Apache5HttpClient.Builder builder = Apache5HttpClient.builder()
                .connectionTimeout(Duration.ofSeconds(10))
                .socketTimeout(attemptTimeout)
                .maxConnections(50);
        if (!settings.verifyTls()) {
            log.warn("aws_client_parameters.verify is false: the certificates of AWS endpoints are not checked "
                    + "(verify_cert_path, if set, is ignored)");
            return builder.buildWithDefaults(AttributeMap.builder()
                    .put(SdkHttpConfigurationOption.TRUST_ALL_CERTIFICATES, true).build());
        }
        if (settings.caBundle() != null) {
            TrustManager[] trust = trustManagers(settings.caBundle());
            builder.tlsTrustManagersProvider(() -> trust);
        }
        return builder.build();
    }

    /** Trust managers that trust exactly the certificates of a PEM bundle. */
    private static TrustManager[] trustManagers(String bundle) throws LaunchException {
        String where = "aws_credentials.aws_client_parameters.verify_cert_path '" + bundle + "'";
        Path path;
        try {
            path = Path.of(bundle);
        } catch (java.nio.file.InvalidPathException e) {
            throw new LaunchException(where + ": not a file path (" + e.getReason() + ")");
        }
        if (!Files.isReadable(path)) {
            throw new LaunchException(where + ": no such readable file");
        }
        try (InputStream in = Files.newInputStream(path)) {
            Collection<? extends Certificate> certificates = CertificateFactory.getInstance("X.509")
                    .generateCertificates(in);
            if (certificates.isEmpty()) {
                throw new LaunchException(where + ": no PEM certificate in it");
            }
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            store.load(null, null);
            int i = 0;
            for (Certificate c : certificates) {
                store.setCertificateEntry("ca-" + i++, c);
            }
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(store);
            return factory.getTrustManagers();
        } catch (IOException | GeneralSecurityException e) {
            throw new LaunchException(where + ": not a PEM bundle of CA certificates (" + e.getMessage() + ")");
        }
    }
}
