package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;
import io.pworker.settings.Settings;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP transport to the Prefect API with Prefect's client rules (worker-spec §6.3): its headers, retries with
 * exponential backoff and jitter on 408/429/502/503/504 and on lost connections, {@code Retry-After},
 * maintenance answers that do not use up attempts, and CSRF tokens for self-hosted servers that ask for them.
 *
 * <p>Connection errors are only retried once the server has answered at least once, as in Prefect: a wrong
 * URL at start-up fails fast with a clear message instead of minutes of silent retries.
 */
public final class PrefectHttp implements AutoCloseable {

    public static final String API_VERSION = "0.8.4";
    private static final Logger log = LoggerFactory.getLogger(PrefectHttp.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Settings settings;
    private final HttpClient client;
    private final String base;
    private final String userAgent;
    private final String workerName;
    private final AtomicReference<String> workerId = new AtomicReference<>();
    private final AtomicBoolean connectedOnce = new AtomicBoolean();
    private final String csrfClient = UUID.randomUUID().toString();
    private final AtomicReference<String> csrfToken = new AtomicReference<>();
    private final AtomicBoolean csrfDisabled;

    public PrefectHttp(Settings settings, String workerName, String version) {
        this.settings = settings;
        this.workerName = workerName;
        this.base = settings.apiUrl().toString();
        this.userAgent = "pworker/" + version + " (API " + API_VERSION + ")";
        this.csrfDisabled = new AtomicBoolean(settings.isCloud() || !settings.csrfSupportEnabled());
        HttpClient.Builder builder = HttpClient.newBuilder()
                // the client's own pool would keep platform threads (and their memory) for short bursts of work
                .executor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor())
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(settings.requestTimeout());
        SSLContext ssl = "http".equalsIgnoreCase(settings.apiUrl().getScheme()) ? PlainHttpOnly.context() : sslContext(settings);
        if (ssl != null) {
            builder.sslContext(ssl);
        }
        if (ssl instanceof PlainHttpOnly) {
            builder.sslParameters(new SSLParameters());
        }
        this.client = builder.build();
    }

    public Settings settings() {
        return settings;
    }

    public HttpClient client() {
        return client;
    }

    /** Set once Prefect Cloud told us our worker id; sent on every later request. */
    public void workerId(String id) {
        workerId.set(id);
    }

    public Optional<String> workerId() {
        return Optional.ofNullable(workerId.get());
    }

    /** Headers shared by HTTP calls and WebSocket upgrades: custom first so that ours cannot be overridden. */
    public Map<String, String> commonHeaders() {
        Map<String, String> headers = new java.util.LinkedHashMap<>(settings.customHeaders());
        headers.keySet().removeIf(k -> k.equalsIgnoreCase("user-agent") || k.equalsIgnoreCase("prefect-csrf-token")
                || k.equalsIgnoreCase("prefect-csrf-client"));
        headers.put("X-PREFECT-API-VERSION", API_VERSION);
        headers.put("X-Prefect-Worker-Name", workerName);
        String id = workerId.get();
        if (id != null) {
            headers.put("X-Prefect-Worker-Id", id);
        }
        return headers;
    }

    public String userAgent() {
        return userAgent;
    }

    /** The API base URL with {@code http} replaced by {@code ws}, for event sockets. */
    public URI websocketUri(String path) {
        String ws = base.replaceFirst("^http", "ws");
        return URI.create(ws + path);
    }

    public static String segment(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    public ApiResponse get(String path) throws ApiException, InterruptedException {
        return send("GET", path, null);
    }

    public ApiResponse post(String path, Object body) throws ApiException, InterruptedException {
        return send("POST", path, body);
    }

    public ApiResponse patch(String path, Object body) throws ApiException, InterruptedException {
        return send("PATCH", path, body);
    }

    /**
     * Sends one request with retries. Returns the final response for any status below 400 and for 404 (callers
     * decide what "not found" means); other error statuses become an {@link ApiException} carrying the server's
     * message.
     */
    public ApiResponse send(String method, String path, Object body) throws ApiException, InterruptedException {
        byte[] payload = null;
        if (body != null) {
            try {
                payload = JSON.writeValueAsBytes(body);
            } catch (IOException e) {
                throw new ApiException(method, path, 0, "cannot encode request body: " + e.getMessage(), e);
            }
        }
        boolean mutating = !method.equals("GET");
        int attempt = 0;
        boolean csrfRetried = false;
        while (true) {
            if (mutating) {
                ensureCsrfToken();
            }
            HttpResponse<byte[]> response;
            try {
                response = client.send(build(method, path, payload, mutating), HttpResponse.BodyHandlers.ofByteArray());
                connectedOnce.set(true);
            } catch (IOException e) {
                boolean retryable = connectedOnce.get() || !(e instanceof ConnectException);
                if (!retryable || attempt >= settings.maxRetries()) {
                    throw new ApiException(method, path, 0, describeTransportError(e), e);
                }
                attempt++;
                sleep(backoff(attempt, null), method, path, "connection error: " + describeTransportError(e));
                continue;
            }
            int status = response.statusCode();
            JsonNode json = parse(response.body());
            if (status == 403 && mutating && !csrfRetried && json != null && json.toString().contains("Invalid CSRF token")) {
                csrfToken.set(null);
                csrfRetried = true;
                continue;
            }
            boolean maintenance = response.headers().firstValue("Prefect-Maintenance")
                    .map(v -> v.equalsIgnoreCase("true")).orElse(false);
            if (isRetryable(status) && (maintenance || attempt < settings.maxRetries())) {
                if (!maintenance) {
                    attempt++;
                }
                Double retryAfter = response.headers().firstValue("Retry-After").map(PrefectHttp::parseSeconds).orElse(null);
                sleep(backoff(attempt, retryAfter), method, path, "HTTP " + status);
                continue;
            }
            if (status >= 400 && status != 404) {
                throw new ApiException(method, path, status, method + " " + path + " failed with HTTP " + status
                        + serverMessage(json), null);
            }
            return new ApiResponse(status, json);
        }
    }

    private static boolean isRetryable(int status) {
        return status == 408 || status == 429 || status == 502 || status == 503 || status == 504;
    }

    private HttpRequest build(String method, String path, byte[] payload, boolean mutating) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
                .timeout(settings.requestTimeout())
                .header("User-Agent", userAgent)
                .header("Accept", "application/json");
        commonHeaders().forEach(b::header);
        settings.authorizationHeader().ifPresent(v -> b.header("Authorization", v));
        String token = csrfToken.get();
        if (mutating && token != null) {
            b.header("Prefect-Csrf-Token", token).header("Prefect-Csrf-Client", csrfClient);
        }
        if (payload != null) {
            b.header("Content-Type", "application/json");
            b.method(method, HttpRequest.BodyPublishers.ofByteArray(payload));
        } else {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        }
        return b.build();
    }

    private void ensureCsrfToken() throws InterruptedException {
        if (csrfDisabled.get() || csrfToken.get() != null) {
            return;
        }
        try {
            HttpResponse<byte[]> r = client.send(build("GET", "/csrf-token?client=" + csrfClient, null, false),
                    HttpResponse.BodyHandlers.ofByteArray());
            connectedOnce.set(true);
            JsonNode json = parse(r.body());
            if (r.statusCode() == 404 || (r.statusCode() == 422 && json != null
                    && json.toString().contains("CSRF protection is disabled"))) {
                csrfDisabled.set(true);
            } else if (r.statusCode() == 200 && json != null && json.hasNonNull("token")) {
                csrfToken.set(json.get("token").asText());
            }
        } catch (IOException e) {
            // the request itself will fail with a clearer error
        }
    }

    private Duration backoff(int attempt, Double retryAfterSeconds) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        if (retryAfterSeconds != null) {
            // never sooner than the server asked, up to 20% later
            return Duration.ofMillis(Math.round(retryAfterSeconds * 1000 * (1 + 0.2 * rnd.nextDouble())));
        }
        double seconds = Math.pow(2, attempt);
        return Duration.ofMillis(Math.round(seconds * 1000 * (0.82 + 0.38 * rnd.nextDouble())));
    }

    private void sleep(Duration d, String method, String path, String why) throws InterruptedException {
        log.debug("{} {}: {}; retrying in {} ms", method, path, why, d.toMillis());
        Thread.sleep(d);
    }

    private static Double parseSeconds(String v) {
        try {
            return Math.max(0, Double.parseDouble(v.strip()));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static JsonNode parse(byte[] body) {
        if (body == null || body.length == 0) {
            return null;
        }
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            return TextNode.valueOf(new String(body, StandardCharsets.UTF_8));
        }
    }

    private static String serverMessage(JsonNode json) {
        if (json == null) {
            return "";
        }
        JsonNode detail = json.get("detail");
        if (detail == null) {
            detail = json.get("exception_message");
        }
        String text = detail == null ? json.toString() : detail.isTextual() ? detail.asText() : detail.toString();
        if (text.length() > 500) {
            text = text.substring(0, 500) + "…";
        }
        return ": " + text;
    }

    private String describeTransportError(IOException e) {
        String what = e instanceof HttpTimeoutException ? "timed out"
                : e instanceof ConnectException ? "connection refused or unreachable"
                : e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        return "cannot reach the Prefect API at " + base + " (" + what + ")";
    }

    private static SSLContext sslContext(Settings settings) {
        try {
            if (settings.tlsInsecureSkipVerify()) {
                System.setProperty("jdk.internal.httpclient.disableHostnameVerification", "true");
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(null, new TrustManager[] {new TrustAll()}, new SecureRandom());
                return ctx;
            }
            if (settings.sslCertFile() != null) {
                KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                ks.load(null, null);
                try (InputStream in = Files.newInputStream(settings.sslCertFile())) {
                    int i = 0;
                    for (var cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                        ks.setCertificateEntry("ca-" + i++, cert);
                    }
                }
                TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ks);
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(null, tmf.getTrustManagers(), new SecureRandom());
                return ctx;
            }
            return null;
        } catch (Exception e) {
            throw new IllegalStateException("cannot set up TLS for the Prefect API (PREFECT_API_SSL_CERT_FILE="
                    + settings.sslCertFile() + "): " + e.getMessage(), e);
        }
    }

    /**
     * For an http:// API no TLS is ever spoken, yet the JDK client builds the default TLS context (and reads the
     * system trust store) when given none: about a tenth of a second and two hundred classes at every start.
     */
    private static final class PlainHttpOnly extends SSLContext {
        private PlainHttpOnly() {
            super(new SSLContextSpi() {
                @Override
                protected void engineInit(javax.net.ssl.KeyManager[] km, TrustManager[] tm, SecureRandom sr) {
                }

                @Override
                protected javax.net.ssl.SSLSocketFactory engineGetSocketFactory() {
                    throw unused();
                }

                @Override
                protected javax.net.ssl.SSLServerSocketFactory engineGetServerSocketFactory() {
                    throw unused();
                }

                @Override
                protected javax.net.ssl.SSLEngine engineCreateSSLEngine() {
                    throw unused();
                }

                @Override
                protected javax.net.ssl.SSLEngine engineCreateSSLEngine(String host, int port) {
                    throw unused();
                }

                @Override
                protected javax.net.ssl.SSLSessionContext engineGetServerSessionContext() {
                    throw unused();
                }

                @Override
                protected javax.net.ssl.SSLSessionContext engineGetClientSessionContext() {
                    throw unused();
                }
            }, null, "none");
        }

        static SSLContext context() {
            return new PlainHttpOnly();
        }

        private static IllegalStateException unused() {
            return new IllegalStateException("TLS requested from a client built for a plain http:// Prefect API URL");
        }
    }

    private static final class TrustAll implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    @Override
    public void close() {
        client.shutdownNow();
    }
}
