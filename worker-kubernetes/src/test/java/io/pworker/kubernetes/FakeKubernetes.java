package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.kubernetes.client.openapi.JSON;
import io.kubernetes.client.openapi.models.V1Job;
import io.kubernetes.client.openapi.models.V1JobList;
import io.kubernetes.client.openapi.models.V1Pod;
import io.kubernetes.client.openapi.models.V1PodList;
import io.kubernetes.client.openapi.models.V1Secret;
import io.kubernetes.client.openapi.models.V1SecretList;
import io.kubernetes.client.openapi.models.V1Status;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Kubernetes API server for tests, on the JDK's HttpServer (loopback only): Jobs, Pods and Secrets in
 * namespaces, label selectors, watches as HTTP streams with resourceVersion, bookmarks and 410 Gone, errors as
 * {@code Status} objects, a Job controller, a garbage collector for foreground and background deletion, and a
 * {@link Kubelet} that runs the pods. Every body it sends is first parsed with client-java's models and every body
 * it receives must parse as its kind; what fails is recorded in {@link #violations()}.
 *
 * <p>All objects are guarded by {@code this}; watch streams wait on it for news.
 */
final class FakeKubernetes implements AutoCloseable {

    private static final ObjectMapper JSON_TREES = new ObjectMapper();
    private static final Pattern PATH = Pattern.compile(
            "^/(?:api/v1|apis/batch/v1)(?:/namespaces/([^/]+))?/(jobs|pods|secrets)(?:/([^/]+))?(/log)?$");
    private static final Map<String, String> KINDS = Map.of("jobs", "Job", "pods", "Pod", "secrets", "Secret");

    private final HttpServer server;
    private final String scheme;
    private final List<String> authorizations = new CopyOnWriteArrayList<>();
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private final Kubelet kubelet;
    private final Set<String> namespaces = new TreeSet<>(Set.of("default"));
    /** kind -> "namespace/name" -> object. */
    private final Map<String, Map<String, ObjectNode>> objects = new HashMap<>();
    private final List<Event> history = new ArrayList<>();
    private long version = 100;
    /** Watches from versions before this get 410 Gone. */
    private long oldestWatchable = 0;
    private int watchGeneration;
    private Duration bookmarkEvery = Duration.ofSeconds(1);
    private final Deque<Fault> faults = new ConcurrentLinkedDeque<>();
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> watchConnections = new HashMap<>();
    private final List<String> requests = new CopyOnWriteArrayList<>();
    /** The body of each POST, as "kind namespace" → JSON, in order. */
    private final List<Map.Entry<String, String>> posted = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    private record Event(long version, String kind, String namespace, String type, ObjectNode object) {
    }

    /** A scripted answer for the next request matching {@code method} and {@code path}. */
    record Fault(String method, Pattern path, int code, String reason, String message) {
    }

    FakeKubernetes(Kubelet kubelet) throws IOException {
        this(kubelet, null);
    }

    /** @param tls serves HTTPS with this context (as a real API server does), or plain HTTP when null */
    FakeKubernetes(Kubelet kubelet, javax.net.ssl.SSLContext tls) throws IOException {
        this.kubelet = kubelet;
        KINDS.keySet().forEach(k -> objects.put(k, new LinkedHashMap<>()));
        InetSocketAddress loopback = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        if (tls == null) {
            server = HttpServer.create(loopback, 0);
        } else {
            com.sun.net.httpserver.HttpsServer https = com.sun.net.httpserver.HttpsServer.create(loopback, 0);
            https.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(tls));
            server = https;
        }
        this.scheme = tls == null ? "http" : "https";
        server.setExecutor(threads);
        server.createContext("/", this::handle);
        server.start();
    }

    String url() {
        return scheme + "://127.0.0.1:" + server.getAddress().getPort();
    }

    int port() {
        return server.getAddress().getPort();
    }

    /** The Authorization headers requests came with. */
    List<String> authorizations() {
        return List.copyOf(authorizations);
    }

    /** A kubeconfig object for this server, as a kubernetes-cluster-config block carries it. */
    ObjectNode kubeconfig(String context) {
        ObjectNode kc = JSON_TREES.createObjectNode().put("apiVersion", "v1").put("kind", "Config")
                .put("current-context", context);
        kc.putArray("clusters").addObject().put("name", "fake").putObject("cluster").put("server", url());
        kc.putArray("users").addObject().put("name", "fake").putObject("user").put("token", "fake-token");
        kc.putArray("contexts").addObject().put("name", context).putObject("context").put("cluster", "fake")
                .put("user", "fake");
        return kc;
    }

    // ---- test controls ----

    synchronized void createNamespace(String name) {
        namespaces.add(name);
    }

    void failNext(String method, String pathRegex, int code, String reason, String message) {
        faults.add(new Fault(method, Pattern.compile(pathRegex), code, reason, message));
    }

    /** Ends every open watch stream, as a restarting API server or a dropped connection would. */
    synchronized void dropWatches() {
        watchGeneration++;
        notifyAll();
    }

    /** Forgets the event history, so watches resuming from an older version get 410 Gone and must list again. */
    synchronized void compact() {
        version++;
        oldestWatchable = version;
        watchGeneration++;
        notifyAll();
    }

    synchronized void bookmarkEvery(Duration interval) {
        bookmarkEvery = interval;
    }

    synchronized int watchConnections(String kind) {
        return watchConnections.getOrDefault(kind, new AtomicInteger()).get();
    }

    List<String> violations() {
        return List.copyOf(violations);
    }

    List<String> requests() {
        return List.copyOf(requests);
    }

    synchronized List<ObjectNode> list(String kind, String namespace) {
        return objects.get(kind).values().stream()
                .filter(o -> namespace == null || namespace.equals(o.at("/metadata/namespace").asText()))
                .map(ObjectNode::deepCopy).toList();
    }

    synchronized ObjectNode get(String kind, String namespace, String name) {
        ObjectNode o = objects.get(kind).get(namespace + "/" + name);
        return o == null ? null : o.deepCopy();
    }

    /** Deletes from outside the worker, as {@code kubectl delete} does. */
    void delete(String kind, String namespace, String name, String propagation) {
        List<Runnable> after = new ArrayList<>();
        synchronized (this) {
            deleteLocked(kind, namespace, name, propagation, null, after);
        }
        after.forEach(Runnable::run);
    }

    // ---- what the kubelet reports ----

    /** Changes a pod's status (the kubelet's report); terminal phases drive the Job controller. */
    void updatePod(String namespace, String name, Consumer<ObjectNode> status) {
        List<Runnable> after = new ArrayList<>();
        synchronized (this) {
            ObjectNode pod = objects.get("pods").get(namespace + "/" + name);
            if (pod == null) {
                return;
            }
            status.accept(KubernetesJobConfiguration.object(pod, "status"));
            String phase = pod.at("/status/phase").asText();
            if (pod.at("/metadata/deletionTimestamp").isMissingNode() || !isTerminal(phase)) {
                store("pods", pod, "MODIFIED");
            }
            if (isTerminal(phase)) {
                podEnded(pod, after);
            }
        }
        after.forEach(Runnable::run);
    }

    /** The kubelet stopped a deleted pod's container: the pod goes away. */
    void podStopped(String namespace, String name) {
        List<Runnable> after = new ArrayList<>();
        synchronized (this) {
            ObjectNode pod = objects.get("pods").get(namespace + "/" + name);
            if (pod != null && !pod.at("/metadata/deletionTimestamp").isMissingNode()) {
                remove("pods", pod, after);
            }
        }
        after.forEach(Runnable::run);
    }

    /** The value of a Secret's key, for the kubelet's {@code secretKeyRef}. */
    synchronized String secretValue(String namespace, String name, String key) {
        ObjectNode s = objects.get("secrets").get(namespace + "/" + name);
        JsonNode v = s == null ? null : s.path("data").get(key);
        return v == null ? null : new String(java.util.Base64.getDecoder().decode(v.asText()), StandardCharsets.UTF_8);
    }

    synchronized Map<String, String> secretData(String namespace, String name) {
        ObjectNode s = objects.get("secrets").get(namespace + "/" + name);
        if (s == null) {
            return null;
        }
        Map<String, String> out = new LinkedHashMap<>();
        s.path("data").properties().forEach(e -> out.put(e.getKey(),
                new String(java.util.Base64.getDecoder().decode(e.getValue().asText()), StandardCharsets.UTF_8)));
        return out;
    }

    static String now() {
        return Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    }

    @Override
    public void close() {
        closed = true;
        synchronized (this) {
            notifyAll();
        }
        server.stop(0);
        kubelet.close();
        threads.shutdownNow();
    }

    // ---- HTTP ----

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String method = ex.getRequestMethod();
            String path = ex.getRequestURI().getPath();
            Map<String, String> query = query(ex.getRequestURI().getRawQuery());
            requests.add(method + " " + ex.getRequestURI());
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth != null) {
                authorizations.add(auth);
            }
            for (Fault f : faults) {
                if (f.method().equals(method) && f.path().matcher(path).find() && faults.remove(f)) {
                    status(ex, f.code(), f.reason(), f.message());
                    return;
                }
            }
            Matcher m = PATH.matcher(path);
            if (!m.matches()) {
                status(ex, 404, "NotFound", "the server could not find the requested resource");
                return;
            }
            String ns = m.group(1);
            String kind = m.group(2);
            String name = m.group(3);
            if (m.group(4) != null) {
                if (!kind.equals("pods") || get("pods", ns, name) == null) {
                    status(ex, 404, "NotFound", "pods \"" + name + "\" not found");
                    return;
                }
                String logs = kubelet.logs(ns, name);
                if (query.containsKey("tailLines")) {
                    List<String> lines = logs.lines().toList();
                    int n = Integer.parseInt(query.get("tailLines"));
                    logs = String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size())) + "\n";
                }
                send(ex, 200, "text/plain", logs);
                return;
            }
            byte[] body = ex.getRequestBody().readAllBytes();
            switch (method) {
                case "GET" -> {
                    if (name != null) {
                        ObjectNode o = get(kind, ns, name);
                        if (o == null) {
                            status(ex, 404, "NotFound", kind + (kind.equals("jobs") ? ".batch" : "") + " \"" + name
                                    + "\" not found");
                        } else {
                            json(ex, 200, o, modelOf(kind));
                        }
                    } else if ("true".equals(query.get("watch")) || "1".equals(query.get("watch"))) {
                        watch(ex, kind, ns, query);
                    } else {
                        listObjects(ex, kind, ns, query);
                    }
                }
                case "POST" -> create(ex, kind, ns, body);
                case "PUT" -> replace(ex, kind, ns, name, body);
                case "DELETE" -> deleteRequest(ex, kind, ns, name, query);
                default -> status(ex, 405, "MethodNotAllowed", method + " is not supported here");
            }
        } catch (RuntimeException e) {
            violations.add("fake server failed on " + ex.getRequestURI() + ": " + e);
            throw e;
        }
    }

    private void listObjects(HttpExchange ex, String kind, String ns, Map<String, String> query) throws IOException {
        LabelSelector selector = LabelSelector.parse(query.get("labelSelector"));
        ObjectNode list = JSON_TREES.createObjectNode();
        list.put("apiVersion", kind.equals("jobs") ? "batch/v1" : "v1").put("kind", KINDS.get(kind) + "List");
        ArrayNode items = list.putArray("items");
        synchronized (this) {
            list.putObject("metadata").put("resourceVersion", String.valueOf(version));
            for (ObjectNode o : objects.get(kind).values()) {
                if ((ns == null || ns.equals(o.at("/metadata/namespace").asText()))
                        && selector.matches(o.at("/metadata/labels"))) {
                    items.add(o.deepCopy());
                }
            }
        }
        json(ex, 200, list, switch (kind) {
            case "jobs" -> V1JobList.class;
            case "pods" -> V1PodList.class;
            default -> V1SecretList.class;
        });
    }

    /** The bodies POSTed for {@code kind} ({@code "jobs"}, …) in namespace {@code ns}, as sent. */
    List<String> posted(String kind, String ns) {
        return posted.stream().filter(e -> e.getKey().equals(kind + " " + ns)).map(Map.Entry::getValue).toList();
    }

    private void create(HttpExchange ex, String kind, String ns, byte[] body) throws IOException {
        posted.add(Map.entry(kind + " " + ns, new String(body, StandardCharsets.UTF_8)));
        ObjectNode o;
        try {
            JSON.deserialize(new String(body, StandardCharsets.UTF_8), modelOf(kind));
            o = (ObjectNode) JSON_TREES.readTree(body);
        } catch (RuntimeException | IOException e) {
            violations.add("POST " + kind + " with a body that is not a valid " + KINDS.get(kind) + ": " + e.getMessage());
            status(ex, 400, "BadRequest", "invalid body: " + e.getMessage());
            return;
        }
        String invalid = invalid(kind, o);
        if (invalid != null) {
            violations.add("POST " + kind + ": " + invalid);
            status(ex, 422, "Invalid", KINDS.get(kind) + " is invalid: " + invalid);
            return;
        }
        ObjectNode meta = KubernetesJobConfiguration.object(o, "metadata");
        if (meta.hasNonNull("namespace") && !meta.get("namespace").asText().equals(ns)) {
            status(ex, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on "
                    + "the request");
            return;
        }
        List<Runnable> after = new ArrayList<>();
        ObjectNode stored;
        synchronized (this) {
            if (!namespaces.contains(ns)) {
                status(ex, 404, "NotFound", "namespaces \"" + ns + "\" not found");
                return;
            }
            String name = meta.hasNonNull("name") ? meta.get("name").asText()
                    : meta.path("generateName").asText() + randomSuffix();
            if (objects.get(kind).containsKey(ns + "/" + name)) {
                status(ex, 409, "AlreadyExists", kind + " \"" + name + "\" already exists");
                return;
            }
            meta.put("name", name).put("namespace", ns).put("uid", UUID.randomUUID().toString())
                    .put("creationTimestamp", now());
            if (kind.equals("jobs")) {
                defaultJob(o);
            }
            store(kind, o, "ADDED");
            if (kind.equals("jobs")) {
                startPod(o, after);
            }
            stored = o.deepCopy();
        }
        after.forEach(Runnable::run);
        json(ex, 201, stored, modelOf(kind));
    }

    private void replace(HttpExchange ex, String kind, String ns, String name, byte[] body) throws IOException {
        ObjectNode o;
        try {
            JSON.deserialize(new String(body, StandardCharsets.UTF_8), modelOf(kind));
            o = (ObjectNode) JSON_TREES.readTree(body);
        } catch (RuntimeException | IOException e) {
            violations.add("PUT " + kind + " with a body that is not a valid " + KINDS.get(kind) + ": " + e.getMessage());
            status(ex, 400, "BadRequest", "invalid body: " + e.getMessage());
            return;
        }
        ObjectNode stored;
        synchronized (this) {
            ObjectNode current = objects.get(kind).get(ns + "/" + name);
            if (current == null) {
                status(ex, 404, "NotFound", kind + " \"" + name + "\" not found");
                return;
            }
            String expected = o.at("/metadata/resourceVersion").asText("");
            if (!expected.isEmpty() && !expected.equals(current.at("/metadata/resourceVersion").asText())) {
                status(ex, 409, "Conflict", "the object has been modified; please apply your changes to the latest "
                        + "version and try again");
                return;
            }
            ObjectNode meta = KubernetesJobConfiguration.object(o, "metadata");
            meta.set("uid", current.at("/metadata/uid"));
            meta.set("creationTimestamp", current.at("/metadata/creationTimestamp"));
            meta.put("name", name).put("namespace", ns);
            store(kind, o, "MODIFIED");
            stored = o.deepCopy();
        }
        json(ex, 200, stored, modelOf(kind));
    }

    private void deleteRequest(HttpExchange ex, String kind, String ns, String name, Map<String, String> query)
            throws IOException {
        List<Runnable> after = new ArrayList<>();
        ObjectNode answer;
        synchronized (this) {
            if (!objects.get(kind).containsKey(ns + "/" + name)) {
                status(ex, 404, "NotFound", kind + (kind.equals("jobs") ? ".batch" : "") + " \"" + name + "\" not found");
                return;
            }
            Integer grace = query.containsKey("gracePeriodSeconds") ? Integer.valueOf(query.get("gracePeriodSeconds")) : null;
            answer = deleteLocked(kind, ns, name, query.get("propagationPolicy"), grace, after);
        }
        after.forEach(Runnable::run);
        if (answer != null) {
            // not gone yet (finalizers, graceful pod deletion): the API server answers with the object
            json(ex, 200, answer, modelOf(kind));
        } else {
            ObjectNode s = statusBody(200, null, null).put("status", "Success");
            s.putObject("details").put("name", name).put("kind", kind);
            json(ex, 200, s, V1Status.class);
        }
    }

    /**
     * Deletes or starts deleting; returns the object when it lingers (with its deletionTimestamp), null when it is
     * gone. {@code after} collects kubelet calls to make outside the lock.
     */
    private ObjectNode deleteLocked(String kind, String ns, String name, String propagation, Integer grace,
            List<Runnable> after) {
        ObjectNode o = objects.get(kind).get(ns + "/" + name);
        if (o == null) {
            return null;
        }
        switch (kind) {
            case "jobs" -> {
                List<ObjectNode> pods = podsOf(o);
                String policy = propagation == null ? "Orphan" : propagation; // batch/v1's default for Jobs
                if (policy.equals("Foreground") && !pods.isEmpty()) {
                    ObjectNode meta = (ObjectNode) o.get("metadata");
                    if (!meta.has("deletionTimestamp")) {
                        meta.put("deletionTimestamp", now());
                        meta.putArray("finalizers").add("foregroundDeletion");
                        store("jobs", o, "MODIFIED");
                    }
                    for (ObjectNode pod : pods) {
                        deleteLocked("pods", ns, pod.at("/metadata/name").asText(), null, null, after);
                    }
                    return objects.get("jobs").containsKey(ns + "/" + name) ? o.deepCopy() : null;
                }
                remove("jobs", o, after);
                for (ObjectNode pod : pods) {
                    if (policy.equals("Orphan")) {
                        ((ObjectNode) pod.get("metadata")).remove("ownerReferences");
                        store("pods", pod, "MODIFIED");
                    } else {
                        deleteLocked("pods", ns, pod.at("/metadata/name").asText(), null, null, after);
                    }
                }
                return null;
            }
            case "pods" -> {
                String phase = o.at("/status/phase").asText();
                if (isTerminal(phase) || !o.at("/status/startTime").isTextual()) {
                    remove("pods", o, after);
                    after.add(() -> kubelet.stop(ns, name, Duration.ZERO));
                    return null;
                }
                int seconds = grace != null ? grace : o.at("/spec/terminationGracePeriodSeconds").asInt(30);
                ObjectNode meta = (ObjectNode) o.get("metadata");
                if (!meta.has("deletionTimestamp") || meta.path("deletionGracePeriodSeconds").asInt() > seconds) {
                    meta.put("deletionTimestamp", now()).put("deletionGracePeriodSeconds", seconds);
                    store("pods", o, "MODIFIED");
                }
                after.add(() -> kubelet.stop(ns, name, Duration.ofSeconds(seconds)));
                return o.deepCopy();
            }
            default -> {
                remove(kind, o, after);
                return null;
            }
        }
    }

    // ---- controllers ----

    private void defaultJob(ObjectNode job) {
        ObjectNode spec = KubernetesJobConfiguration.object(job, "spec");
        String uid = job.at("/metadata/uid").asText();
        String name = job.at("/metadata/name").asText();
        if (!spec.has("backoffLimit")) {
            spec.put("backoffLimit", 6);
        }
        if (!spec.has("completions")) {
            spec.put("completions", 1);
        }
        if (!spec.has("parallelism")) {
            spec.put("parallelism", 1);
        }
        spec.putObject("selector").putObject("matchLabels").put("batch.kubernetes.io/controller-uid", uid);
        ObjectNode template = KubernetesJobConfiguration.object(spec, "template");
        ObjectNode labels = KubernetesJobConfiguration.object(KubernetesJobConfiguration.object(template, "metadata"), "labels");
        labels.put("batch.kubernetes.io/controller-uid", uid).put("controller-uid", uid)
                .put("batch.kubernetes.io/job-name", name).put("job-name", name);
        ObjectNode podSpec = KubernetesJobConfiguration.object(template, "spec");
        if (!podSpec.has("terminationGracePeriodSeconds")) {
            podSpec.put("terminationGracePeriodSeconds", 30);
        }
        job.putObject("status").put("startTime", now()).put("active", 0);
    }

    private void startPod(ObjectNode job, List<Runnable> after) {
        String ns = job.at("/metadata/namespace").asText();
        String jobName = job.at("/metadata/name").asText();
        ObjectNode pod = JSON_TREES.createObjectNode().put("apiVersion", "v1").put("kind", "Pod");
        ObjectNode meta = pod.putObject("metadata");
        String name = jobName + "-" + randomSuffix();
        meta.put("name", name).put("generateName", jobName + "-").put("namespace", ns)
                .put("uid", UUID.randomUUID().toString()).put("creationTimestamp", now());
        meta.set("labels", job.at("/spec/template/metadata/labels").deepCopy());
        if (job.at("/spec/template/metadata/annotations").isObject()) {
            meta.set("annotations", job.at("/spec/template/metadata/annotations").deepCopy());
        }
        meta.putArray("ownerReferences").addObject().put("apiVersion", "batch/v1").put("kind", "Job")
                .put("name", jobName).put("uid", job.at("/metadata/uid").asText()).put("controller", true)
                .put("blockOwnerDeletion", true);
        ObjectNode spec = (ObjectNode) job.at("/spec/template/spec").deepCopy();
        pod.set("spec", spec);
        pod.putObject("status").put("phase", "Pending").put("qosClass", "BestEffort");
        store("pods", pod, "ADDED");
        ((ObjectNode) job.get("status")).put("active", job.at("/status/active").asInt() + 1);
        store("jobs", job, "MODIFIED");
        after.add(() -> kubelet.start(this, ns, name, spec.deepCopy()));
    }

    /** The Job controller's answer to a pod that finished. Holds the lock. */
    private void podEnded(ObjectNode pod, List<Runnable> after) {
        ObjectNode job = ownerJob(pod);
        if (job == null || job.at("/status/conditions").isArray() || job.at("/metadata/deletionTimestamp").isTextual()) {
            if (!pod.at("/metadata/deletionTimestamp").isMissingNode()) {
                remove("pods", pod, after);
            }
            return;
        }
        ObjectNode status = (ObjectNode) job.get("status");
        status.put("active", Math.max(0, status.path("active").asInt() - 1));
        if (pod.at("/status/phase").asText().equals("Succeeded")) {
            status.put("succeeded", status.path("succeeded").asInt() + 1).put("completionTime", now());
            ArrayNode conditions = status.putArray("conditions");
            conditions.addObject().put("type", "SuccessCriteriaMet").put("status", "True")
                    .put("reason", "CompletionsReached").put("lastTransitionTime", now());
            conditions.addObject().put("type", "Complete").put("status", "True")
                    .put("reason", "CompletionsReached").put("lastTransitionTime", now());
            store("jobs", job, "MODIFIED");
            expireLater(job);
        } else {
            int failed = status.path("failed").asInt() + 1;
            status.put("failed", failed);
            if (failed > job.at("/spec/backoffLimit").asInt(6)) {
                status.putArray("conditions").addObject().put("type", "Failed").put("status", "True")
                        .put("reason", "BackoffLimitExceeded").put("message", "Job has reached the specified backoff limit")
                        .put("lastTransitionTime", now());
                store("jobs", job, "MODIFIED");
                expireLater(job);
            } else {
                store("jobs", job, "MODIFIED");
                startPod(job, after);
            }
        }
        if (!pod.at("/metadata/deletionTimestamp").isMissingNode()) {
            remove("pods", pod, after);
        }
    }

    /** ttlSecondsAfterFinished: the TTL controller deletes the finished Job (and its pods) later. */
    private void expireLater(ObjectNode job) {
        JsonNode ttl = job.at("/spec/ttlSecondsAfterFinished");
        if (ttl.isNumber()) {
            String ns = job.at("/metadata/namespace").asText();
            String name = job.at("/metadata/name").asText();
            threads.submit(() -> {
                Thread.sleep(ttl.asLong() * 1000);
                delete("jobs", ns, name, "Background");
                return null;
            });
        }
    }

    private ObjectNode ownerJob(ObjectNode pod) {
        for (JsonNode ref : pod.at("/metadata/ownerReferences")) {
            if (ref.path("kind").asText().equals("Job")) {
                return objects.get("jobs").get(pod.at("/metadata/namespace").asText() + "/" + ref.path("name").asText());
            }
        }
        return null;
    }

    private List<ObjectNode> podsOf(ObjectNode job) {
        String uid = job.at("/metadata/uid").asText();
        return objects.get("pods").values().stream()
                .filter(p -> p.at("/metadata/ownerReferences").findValuesAsText("uid").contains(uid)).toList();
    }

    /** Removes an object; the last pod of a Job in foreground deletion lets the Job go too. Holds the lock. */
    private void remove(String kind, ObjectNode o, List<Runnable> after) {
        String key = o.at("/metadata/namespace").asText() + "/" + o.at("/metadata/name").asText();
        if (objects.get(kind).remove(key) == null) {
            return;
        }
        version++;
        ((ObjectNode) o.get("metadata")).put("resourceVersion", String.valueOf(version));
        history.add(new Event(version, kind, o.at("/metadata/namespace").asText(), "DELETED", o.deepCopy()));
        notifyAll();
        if (kind.equals("pods")) {
            ObjectNode job = ownerJob(o);
            if (job != null && job.at("/metadata/deletionTimestamp").isTextual() && podsOf(job).isEmpty()) {
                remove("jobs", job, after);
            }
        }
    }

    private void store(String kind, ObjectNode o, String type) {
        version++;
        ((ObjectNode) o.get("metadata")).put("resourceVersion", String.valueOf(version));
        String ns = o.at("/metadata/namespace").asText();
        objects.get(kind).put(ns + "/" + o.at("/metadata/name").asText(), o);
        history.add(new Event(version, kind, ns, type, o.deepCopy()));
        notifyAll();
    }

    // ---- watches ----

    private void watch(HttpExchange ex, String kind, String ns, Map<String, String> query) throws IOException {
        LabelSelector selector = LabelSelector.parse(query.get("labelSelector"));
        boolean bookmarks = "true".equals(query.get("allowWatchBookmarks"));
        long deadline = System.nanoTime() + Duration.ofSeconds(Long.parseLong(query.getOrDefault("timeoutSeconds", "1800"))).toNanos();
        String from = query.getOrDefault("resourceVersion", "");
        long cursor;
        int generation;
        List<String> initial = new ArrayList<>();
        synchronized (this) {
            watchConnections.computeIfAbsent(kind, k -> new AtomicInteger()).incrementAndGet();
            generation = watchGeneration;
            if (from.isEmpty() || from.equals("0")) {
                for (ObjectNode o : objects.get(kind).values()) {
                    if ((ns == null || ns.equals(o.at("/metadata/namespace").asText())) && selector.matches(o.at("/metadata/labels"))) {
                        initial.add(event("ADDED", o, kind));
                    }
                }
                cursor = version;
            } else {
                cursor = Long.parseLong(from);
                if (cursor < oldestWatchable) {
                    ObjectNode gone = statusBody(410, "Expired", "too old resource version: " + from + " ("
                            + oldestWatchable + ")");
                    initial.add(JSON_TREES.createObjectNode().put("type", "ERROR").set("object", gone).toString());
                    cursor = Long.MAX_VALUE;
                }
            }
        }
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        for (String line : initial) {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        }
        out.flush();
        long lastSent = System.nanoTime();
        while (cursor != Long.MAX_VALUE) {
            List<String> lines = new ArrayList<>();
            synchronized (this) {
                while (lines.isEmpty()) {
                    long now = System.nanoTime();
                    if (closed || generation != watchGeneration || now >= deadline) {
                        return;
                    }
                    for (Event e : history.subList(firstAfter(cursor), history.size())) {
                        if (e.kind().equals(kind) && (ns == null || ns.equals(e.namespace()))
                                && selector.matches(e.object().at("/metadata/labels"))) {
                            lines.add(event(e.type(), e.object(), kind));
                        }
                    }
                    cursor = version;
                    long nextBookmark = lastSent + bookmarkEvery.toNanos();
                    if (lines.isEmpty() && bookmarks && now >= nextBookmark) {
                        ObjectNode mark = JSON_TREES.createObjectNode().put("kind", KINDS.get(kind))
                                .put("apiVersion", kind.equals("jobs") ? "batch/v1" : "v1");
                        mark.putObject("metadata").put("resourceVersion", String.valueOf(cursor));
                        lines.add(JSON_TREES.createObjectNode().put("type", "BOOKMARK").set("object", mark).toString());
                    }
                    if (lines.isEmpty()) {
                        long until = bookmarks ? Math.min(deadline, nextBookmark) : deadline;
                        try {
                            wait(Math.max(1, (until - now) / 1_000_000));
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }
            }
            for (String line : lines) {
                out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            }
            out.flush();
            lastSent = System.nanoTime();
        }
    }

    /** Index of the first event after {@code version} (the history is ordered by version). Holds the lock. */
    private int firstAfter(long version) {
        int lo = 0;
        int hi = history.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (history.get(mid).version() <= version) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private String event(String type, ObjectNode object, String kind) {
        check(object, modelOf(kind));
        return JSON_TREES.createObjectNode().put("type", type).set("object", object).toString();
    }

    // ---- bodies ----

    private String invalid(String kind, ObjectNode o) {
        JsonNode meta = o.path("metadata");
        if (!meta.hasNonNull("name") && !meta.hasNonNull("generateName")) {
            return "metadata.name: Required value: name or generateName is required";
        }
        if (kind.equals("jobs")) {
            JsonNode containers = o.at("/spec/template/spec/containers");
            if (!containers.isArray() || containers.isEmpty()) {
                return "spec.template.spec.containers: Required value";
            }
            for (JsonNode c : containers) {
                if (!c.path("image").isTextual() || c.path("image").asText().isBlank()) {
                    return "spec.template.spec.containers[0].image: Required value";
                }
            }
            String restart = o.at("/spec/template/spec/restartPolicy").asText("");
            if (!restart.equals("Never") && !restart.equals("OnFailure")) {
                return "spec.template.spec.restartPolicy: Unsupported value: \"" + restart + "\"";
            }
            for (JsonNode labels : List.of(meta.path("labels"), o.at("/spec/template/metadata/labels"))) {
                for (var e : labels.properties()) {
                    if (!e.getValue().asText().matches("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
                            || e.getValue().asText().length() > 63) {
                        return "metadata.labels: Invalid value: \"" + e.getValue().asText() + "\"";
                    }
                }
            }
        }
        return null;
    }

    private static Class<?> modelOf(String kind) {
        return switch (kind) {
            case "jobs" -> V1Job.class;
            case "pods" -> V1Pod.class;
            default -> V1Secret.class;
        };
    }

    private void check(JsonNode body, Class<?> model) {
        try {
            JSON.deserialize(body.toString(), model);
        } catch (RuntimeException e) {
            violations.add("the fake sent a " + model.getSimpleName() + " client-java cannot read: " + e.getMessage());
        }
    }

    private void json(HttpExchange ex, int code, JsonNode body, Class<?> model) throws IOException {
        check(body, model);
        send(ex, code, "application/json", body.toString());
    }

    private static ObjectNode statusBody(int code, String reason, String message) {
        ObjectNode s = JSON_TREES.createObjectNode().put("kind", "Status").put("apiVersion", "v1");
        s.putObject("metadata");
        s.put("status", "Failure").put("code", code);
        if (message != null) {
            s.put("message", message);
        }
        if (reason != null) {
            s.put("reason", reason);
        }
        return s;
    }

    private void status(HttpExchange ex, int code, String reason, String message) throws IOException {
        json(ex, code, statusBody(code, reason, message), V1Status.class);
    }

    private static void send(HttpExchange ex, int code, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(code, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            ex.getResponseBody().write(bytes);
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new HashMap<>();
        if (raw != null) {
            for (String p : raw.split("&")) {
                int eq = p.indexOf('=');
                String k = URLDecoder.decode(eq < 0 ? p : p.substring(0, eq), StandardCharsets.UTF_8);
                out.put(k, eq < 0 ? "" : URLDecoder.decode(p.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    private static boolean isTerminal(String phase) {
        return phase.equals("Succeeded") || phase.equals("Failed");
    }

    private static String randomSuffix() {
        String alphabet = "bcdfghjklmnpqrstvwxz2456789";
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 5; i++) {
            s.append(alphabet.charAt(ThreadLocalRandom.current().nextInt(alphabet.length())));
        }
        return s.toString();
    }
}
