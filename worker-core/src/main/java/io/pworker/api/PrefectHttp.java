package io.pworker.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;
import io.pworker.metrics.WorkerMetrics;
import io.pworker.settings.Settings;
import io.pworker.worker.Worker;
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
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
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
 * exponential backoff and jitter on 408/429/502/503/504 and on lost connections and timeouts ({@link
 * RetrySchedule}: at least 62 s of retries with the default {@code PREFECT_CLIENT_MAX_RETRIES=5}, and before them two
 * quick ones for a 503, a SQLite server's "database is locked"),
 * {@code Retry-After} in seconds or as a date, maintenance answers that do not use up attempts, and CSRF tokens
 * for self-hosted servers that ask for them.
 *
 * <p>Connection errors are only retried once the server has answered at least once, as in Prefect: a wrong
 * URL at start-up fails fast with a clear message instead of minutes of silent retries.
 *
 * <p>A success answer whose body is not JSON (a proxy's login page, a truncated body) is an {@link ApiException},
 * never a value: callers must not act on an answer they could not read.
 */
public final class PrefectHttp implements AutoCloseable {

    public static final String API_VERSION = "0.8.4";
    private static final Logger log = LoggerFactory.getLogger(PrefectHttp.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Settings settings;
    private final WorkerMetrics metrics;
    private final HttpClient client;
    private final String base;
    private final String userAgent;
    private final AtomicReference<String> workerName;
    private final AtomicReference<String> workerId = new AtomicReference<>();
    private final AtomicBoolean connectedOnce = new AtomicBoolean();
    private final String csrfClient = UUID.randomUUID().toString();
    private final AtomicReference<String> csrfToken = new AtomicReference<>();
    private final AtomicBoolean csrfDisabled;
    private final ReentrantLock csrfLock = new ReentrantLock();
    private final RetrySchedule retries;
    /**
     * At most this many requests on the wire at once, as Prefect's client (16 connections, worker-spec §6.3): a
     * burst of hundreds of runs otherwise overlaps so many writes that a SQLite server answers "database is
     * locked" beyond every retry. Waiting here costs nothing but a parked virtual thread.
     */
    static final int MAX_IN_FLIGHT = 16;
    private final java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(MAX_IN_FLIGHT, true);
    private final PrefectVersion followed;
    private final AtomicReference<ServerVersion> serverVersion = new AtomicReference<>();
    private final ReentrantLock serverVersionLock = new ReentrantLock();

    public PrefectHttp(Settings settings, String workerName, String version) {
        this(settings, workerName, version, Worker.PREFECT_VERSION);
    }

    /**
     * @param version         pworker's own version, for the User-Agent
     * @param followedVersion the Prefect release whose worker contract pworker follows; servers are compared to it
     */
    public PrefectHttp(Settings settings, String workerName, String version, String followedVersion) {
        this(settings, workerName, version, followedVersion, WorkerMetrics.none());
    }

    /** @param metrics where each exchange with the API is counted */
    public PrefectHttp(Settings settings, String workerName, String version, String followedVersion,
            WorkerMetrics metrics) {
        this.settings = settings;
        this.metrics = metrics;
        this.retries = new RetrySchedule(settings.maxRetries());
        this.followed = PrefectVersion.of(followedVersion);
        this.workerName = new AtomicReference<>(workerName);
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

    /**
     * The worker's final name, once its type is known ({@code <WorkerClass> <uuid>}); until then requests carry
     * the provisional name given to the constructor. Renaming keeps the connections, the CSRF token and the
     * server's version this client already has.
     */
    public void rename(String name) {
        workerName.set(name);
    }

    /**
     * Asks, each on a virtual thread of its own, what the first requests of a worker need and nothing else does:
     * the server's version ({@link #serverVersion()}) and the CSRF token. A worker calls this when it starts, so
     * that both answers come while it reads its pool.
     */
    public void prefetch() {
        Thread.ofVirtual().name("pworker-version").start(() -> {
            try {
                serverVersion();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Thread.ofVirtual().name("pworker-csrf").start(() -> {
            try {
                ensureCsrfToken();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
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
        headers.put("X-Prefect-Worker-Name", workerName.get());
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

    public ApiResponse delete(String path) throws ApiException, InterruptedException {
        return send("DELETE", path, null);
    }

    public RetrySchedule retrySchedule() {
        return retries;
    }

    public PrefectVersion followedVersion() {
        return followed;
    }

    /**
     * The server's version, asked with {@code GET /admin/version} the first time it is needed (before an event
     * socket opens) and remembered: an answer is final for this client, only a server that could not be reached
     * or answered 5xx is asked again next time. Not asked on Prefect Cloud, nor with
     * {@code PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED=false}; the result is then unknown. A server of another
     * minor release is logged as a warning naming both versions, once; another major release is for the callers
     * to refuse (see {@link PrefectClient#checkServerVersion()}). Never throws for an unreachable server: the
     * version is unknown then.
     */
    public ServerVersion serverVersion() throws InterruptedException {
        ServerVersion known = serverVersion.get();
        if (known != null) {
            return known;
        }
        serverVersionLock.lockInterruptibly();
        try {
            known = serverVersion.get();
            if (known != null) {
                return known;
            }
            if (settings.isCloud() || !settings.serverVersionCheckEnabled()) {
                known = ServerVersion.unknown(followed);
                serverVersion.set(known);
                return known;
            }
            ApiResponse r;
            try {
                r = send("GET", "/admin/version", null, 0);
            } catch (ApiException e) {
                if (e.status() == 401 || e.status() == 403) {
                    log.warn("The Prefect server refused to tell its version (HTTP {}); check PREFECT_API_KEY / "
                            + "PREFECT_API_AUTH_STRING", e.status());
                    serverVersion.set(ServerVersion.unknown(followed));
                } else {
                    log.debug("Could not ask the Prefect server for its version: {}", e.getMessage());
                    if (!e.isTransient()) {
                        serverVersion.set(ServerVersion.unknown(followed));
                    }
                }
                return ServerVersion.unknown(followed);
            }
            JsonNode body = r.body();
            PrefectVersion parsed = r.status() == 200 && body != null && body.isTextual()
                    ? PrefectVersion.parse(body.asText()).orElse(null) : null;
            if (parsed == null) {
                log.info("The Prefect server did not report a version on /admin/version (HTTP {}); "
                        + "assuming it is compatible", r.status());
            }
            known = new ServerVersion(parsed, followed);
            // said once: the answer is remembered below and never asked for again. Another major version is left
            // to the callers, which refuse it with IncompatibleServerException and each say what they give up.
            switch (known.compatibility()) {
                case OLDER_MINOR, NEWER_MINOR -> known.describe(base).ifPresent(log::warn);
                case SAME_MINOR -> log.debug("The Prefect server runs Prefect {}", parsed);
                case OTHER_MAJOR, UNKNOWN -> { }
            }
            serverVersion.set(known);
            return known;
        } finally {
            serverVersionLock.unlock();
        }
    }

    /**
     * Sends one request with retries. Returns the final response for any status below 400 and for 404 (callers
     * decide what "not found" means); other error statuses become an {@link ApiException} carrying the server's
     * message, and so does a success answer whose body is not JSON.
     */
    public ApiResponse send(String method, String path, Object body) throws ApiException, InterruptedException {
        return send(method, path, body, retries.maxRetries());
    }

    private ApiResponse send(String method, String path, Object body, int maxRetries)
            throws ApiException, InterruptedException {
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
        int quick = 0;
        long firstFailure = 0;
        boolean csrfRetried = false;
        while (true) {
            if (mutating) {
                ensureCsrfToken();
            }
            HttpResponse<byte[]> response;
            long sent = System.nanoTime();
            try {
                inFlight.acquire();
                try {
                    response = client.send(build(method, path, payload, mutating), HttpResponse.BodyHandlers.ofByteArray());
                } finally {
                    inFlight.release();
                }
                connectedOnce.set(true);
                metrics.apiRequest(method, path, response.statusCode(), System.nanoTime() - sent);
            } catch (IOException e) {
                metrics.apiRequest(method, path, 0, System.nanoTime() - sent);
                // before the first answer a refused connection means a wrong URL, not a busy server
                boolean retryable = connectedOnce.get() || !(e instanceof ConnectException);
                if (!retryable || attempt >= maxRetries) {
                    throw new ApiException(method, path, 0, describeTransportError(e) + afterRetries(attempt, firstFailure), e);
                }
                if (attempt == 0 && quick == 0) {
                    firstFailure = System.nanoTime();
                }
                attempt++;
                pause(attempt, maxRetries, null, method, path, describeTransportError(e));
                continue;
            }
            int status = response.statusCode();
            byte[] raw = response.body();
            if (status == 403 && mutating && !csrfRetried && text(raw).contains("Invalid CSRF token")) {
                csrfToken.set(null);
                csrfRetried = true;
                continue;
            }
            boolean maintenance = response.headers().firstValue("Prefect-Maintenance")
                    .map(v -> v.equalsIgnoreCase("true")).orElse(false);
            if (isRetryable(status) && (maintenance || attempt < maxRetries)) {
                if (attempt == 0 && quick == 0) {
                    firstFailure = System.nanoTime();
                }
                Duration retryAfter = response.headers().firstValue("Retry-After")
                        .flatMap(v -> RetrySchedule.parseRetryAfter(v, Instant.now())).orElse(null);
                if (status == 503 && !maintenance && retryAfter == null && quick < RetrySchedule.QUICK_RETRIES) {
                    quick++;
                    Duration d = RetrySchedule.quickDelay(quick, ThreadLocalRandom.current().nextDouble());
                    log.debug("{} {}: HTTP 503; quick retry {} in {} ms", method, path, quick, d.toMillis());
                    Thread.sleep(d);
                    continue;
                }
                if (!maintenance) {
                    attempt++;
                }
                pause(Math.max(1, attempt), maxRetries, retryAfter, method, path,
                        "HTTP " + status + (maintenance ? " (server in maintenance)" : ""));
                continue;
            }
            if (status >= 400 && status != 404) {
                throw new ApiException(method, path, status, method + " " + path + " failed with HTTP " + status
                        + afterRetries(attempt, firstFailure) + serverMessage(lenient(raw)), null);
            }
            JsonNode json = status == 404 ? lenient(raw) : strict(method, path, status, raw);
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
        // one request at a time: a second token asked for the same client would replace the first on the server
        csrfLock.lockInterruptibly();
        try {
            if (!csrfDisabled.get() && csrfToken.get() == null) {
                fetchCsrfToken();
            }
        } finally {
            csrfLock.unlock();
        }
    }

    private void fetchCsrfToken() throws InterruptedException {
        try {
            HttpResponse<byte[]> r = client.send(build("GET", "/csrf-token?client=" + csrfClient, null, false),
                    HttpResponse.BodyHandlers.ofByteArray());
            connectedOnce.set(true);
            JsonNode json = lenient(r.body());
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

    private void pause(int retry, int maxRetries, Duration retryAfter, String method, String path, String why)
            throws InterruptedException {
        Duration d = RetrySchedule.delay(retry, retryAfter, ThreadLocalRandom.current().nextDouble());
        // the first retries of a call are routine on a busy server; a call still failing after ~14 s is news
        if (retry >= 4) {
            log.warn("{} {}: {}; retry {} of {} in {} s", method, path, why, retry, maxRetries,
                    String.format(java.util.Locale.ROOT, "%.1f", d.toMillis() / 1000.0));
        } else {
            log.debug("{} {}: {}; retry {} of {} in {} ms", method, path, why, retry, maxRetries, d.toMillis());
        }
        Thread.sleep(d);
    }

    private static String afterRetries(int retries, long firstFailureNanos) {
        if (retries == 0) {
            return "";
        }
        long seconds = Math.round((System.nanoTime() - firstFailureNanos) / 1e9);
        return " after " + retries + (retries == 1 ? " retry" : " retries") + " over " + seconds + " s";
    }

    /** The body of an error answer: JSON when it is, else its text, which still makes a readable message. */
    private static JsonNode lenient(byte[] body) {
        if (body == null || body.length == 0) {
            return null;
        }
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            return TextNode.valueOf(new String(body, StandardCharsets.UTF_8));
        }
    }

    /** The body of a success answer, which must be JSON when there is one. */
    private JsonNode strict(String method, String path, int status, byte[] body) throws ApiException {
        if (body == null || body.length == 0) {
            return null;
        }
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new ApiException(method, path, status, method + " " + path + ": the Prefect API at " + base
                    + " answered " + status + " with a body that is not JSON (" + snippet(body)
                    + "); is PREFECT_API_URL the API of a Prefect server, not a proxy or a web page?", null);
        }
    }

    private static String snippet(byte[] body) {
        String text = new String(body, 0, Math.min(body.length, 200), StandardCharsets.UTF_8)
                .replaceAll("\\s+", " ").strip();
        return "starts with '" + (text.length() > 60 ? text.substring(0, 60) + "…" : text) + "'";
    }

    private static String text(byte[] body) {
        return body == null ? "" : new String(body, StandardCharsets.UTF_8);
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
