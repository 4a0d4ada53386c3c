package io.pworker.aci;

import com.azure.core.management.AzureEnvironment;
import com.azure.json.JsonProviders;
import com.azure.json.JsonReader;
import com.azure.resourcemanager.containerinstance.fluent.models.ContainerGroupInner;
import com.azure.resourcemanager.resources.fluent.models.DeploymentInner;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.dockerjava.api.command.InspectContainerResponse;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.Frame;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.pworker.testkit.DockerTestEngine;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A fake Azure Resource Manager and Entra ID token endpoint on 127.0.0.1 (HTTPS), enough for the ACI plugin:
 * ARM deployments as long-running operations ({@code Azure-AsyncOperation}, {@code Retry-After}), container
 * groups get / delete / stop, container logs, and ARM's error shape. A deployed group's container really runs
 * on the Docker engine, and the group reports its real state and exit code.
 *
 * <p>Every deployment's template resource is read with the SDK's own {@code ContainerGroupInner}; a field the
 * model does not know is a contract violation (the request is refused, and {@link #violations} lists it).
 */
final class FakeAzure implements AutoCloseable {

    static final String TENANT = "7c1e2d3f-0000-4000-8000-00000000aaaa";
    static final String LOCATION = "westeurope";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern DEPLOYMENT = Pattern.compile(
            "/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\\.resources/deployments/([^/]+)(/cancel)?",
            Pattern.CASE_INSENSITIVE);
    private static final Pattern GROUP = Pattern.compile(
            "/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\\.containerinstance/containergroups/([^/]+)"
                    + "(/stop|/containers/([^/]+)/logs)?", Pattern.CASE_INSENSITIVE);
    private static final Pattern GROUPS = Pattern.compile(
            "/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\\.containerinstance/containergroups",
            Pattern.CASE_INSENSITIVE);
    private static final Pattern TOKEN = Pattern.compile("/([^/]+)/oauth2/v2\\.0/token");

    private final HttpsServer server;
    private final DockerTestEngine docker;
    private final String label = "pworker-test.aci-fake";
    private final String instance = UUID.randomUUID().toString();

    /** Container groups by name, deployments by name, operations by id. */
    private final Map<String, Group> groups = new ConcurrentHashMap<>();
    private final Map<String, Deployment> deployments = new ConcurrentHashMap<>();
    private final Map<String, Deployment> operations = new ConcurrentHashMap<>();
    private final Map<String, String> tokens = new ConcurrentHashMap<>();

    final List<String> violations = new CopyOnWriteArrayList<>();
    /** Every request as "METHOD path?query" followed by its body, for assertions on what went over the wire. */
    final List<String> requests = new CopyOnWriteArrayList<>();
    /** The form fields of every token request. */
    final List<Map<String, String>> tokenRequests = new CopyOnWriteArrayList<>();

    // ---- behaviour the tests switch on ----
    /** Polls of a deployment's operation answered "Running" before it ends. */
    volatile int pollsBeforeDone = 1;
    /**
     * Deployments stay Running and create nothing while this holds; once it is cleared, a held deployment
     * creates its group and ends on its next read (operation poll or GET), as one that was merely slow.
     */
    volatile boolean holdDeployments;
    /** The next deployment ends Failed with this error (code, message). */
    volatile String[] failNextDeployment;
    /** The next deployment PUT is refused at once: status, code, message. */
    volatile Object[] refuseNextDeployment;
    /** This many GETs of container groups are throttled with 429 and Retry-After: 1. */
    final AtomicInteger throttleGroupReads = new AtomicInteger();
    final AtomicInteger throttled = new AtomicInteger();

    private final class Group {
        final String name;
        final String resourceGroup;
        final ObjectNode resource;
        final String containerName;
        volatile String containerId;
        volatile boolean stopped;

        Group(String name, String resourceGroup, ObjectNode resource) {
            this.name = name;
            this.resourceGroup = resourceGroup;
            this.resource = resource;
            this.containerName = resource.path("properties").path("containers").path(0).path("name").asText();
        }
    }

    private static final class Deployment {
        final String name;
        final String operation = UUID.randomUUID().toString();
        final AtomicInteger polls = new AtomicInteger();
        volatile String status = "Running";
        volatile ObjectNode error;
        /** The group creation a held deployment still has to do, or null. */
        volatile Runnable pending;
        final String id;

        Deployment(String name, String id) {
            this.name = name;
            this.id = id;
        }
    }

    FakeAzure(DockerTestEngine docker) {
        this.docker = docker;
        try {
            server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        server.setHttpsConfigurator(new HttpsConfigurator(TestTls.get().server));
        server.setExecutor(Executors.newFixedThreadPool(8, r -> {
            Thread t = new Thread(r, "fake-arm");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/", this::handle);
        server.start();
    }

    String baseUrl() {
        return "https://127.0.0.1:" + server.getAddress().getPort() + "/";
    }

    /** Every endpoint of the public cloud pointed here (only the Resource Manager one leaves some SDK paths null). */
    AzureCloud cloud() {
        Map<String, String> endpoints = new HashMap<>();
        AzureEnvironment.AZURE.getEndpoints().keySet().forEach(k -> endpoints.put(k, baseUrl()));
        return new AzureCloud(new AzureEnvironment(endpoints), baseUrl(),
                AzureCloud.httpClient(java.net.http.HttpClient.newBuilder().sslContext(TestTls.get().client)), false);
    }

    // ---- what tests do behind the worker's back ----

    /** {@code az container delete}: the group and its container disappear. */
    void deleteFromOutside(String groupName) {
        Group g = groups.remove(groupName);
        if (g != null && g.containerId != null) {
            removeContainer(g.containerId);
        }
    }

    boolean exists(String groupName) {
        return groups.containsKey(groupName);
    }

    boolean stopped(String groupName) {
        Group g = groups.get(groupName);
        return g != null && g.stopped;
    }

    /** The group as the fake stores it (after deployment), or null. */
    ObjectNode groupResource(String groupName) {
        Group g = groups.get(groupName);
        return g == null ? null : g.resource.deepCopy();
    }

    InspectContainerResponse container(String groupName) {
        Group g = groups.get(groupName);
        return g == null || g.containerId == null ? null : docker.client().inspectContainerCmd(g.containerId).exec();
    }

    /** The deployment bodies received, as sent. */
    final List<JsonNode> deploymentBodies = new CopyOnWriteArrayList<>();

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
        for (var c : docker.client().listContainersCmd().withShowAll(true).withLabelFilter(Map.of(label, instance)).exec()) {
            removeContainer(c.getId());
        }
    }

    // ---- HTTP ----

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            String query = ex.getRequestURI().getRawQuery();
            String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            requests.add(ex.getRequestMethod() + " " + path + (query == null ? "" : "?" + query) + "\n" + body);
            Matcher m;
            if ((m = TOKEN.matcher(path)).matches() && ex.getRequestMethod().equals("POST")) {
                token(ex, m.group(1), body);
                return;
            }
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth == null || !auth.startsWith("Bearer ") || !tokens.containsKey(auth.substring(7))) {
                error(ex, 401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing or invalid.");
                return;
            }
            if ((m = DEPLOYMENT.matcher(path)).matches()) {
                deployment(ex, m, body);
            } else if (path.startsWith("/fake/operations/")) {
                operation(ex, path.substring("/fake/operations/".length()));
            } else if ((m = GROUPS.matcher(path)).matches() && ex.getRequestMethod().equals("GET")) {
                list(ex, m.group(2));
            } else if ((m = GROUP.matcher(path)).matches()) {
                group(ex, m, query);
            } else {
                error(ex, 404, "NotFound", "The fake Resource Manager has no " + ex.getRequestMethod() + " " + path);
            }
        } catch (RuntimeException e) {
            violations.add("fake failed on " + ex.getRequestURI() + ": " + e);
            error(ex, 500, "InternalServerError", String.valueOf(e.getMessage()));
        }
    }

    private void token(HttpExchange ex, String tenant, String body) throws IOException {
        Map<String, String> form = new LinkedHashMap<>();
        for (String pair : body.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                form.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        form.put("tenant", tenant);
        tokenRequests.add(form);
        String token = "fake-token-" + UUID.randomUUID();
        tokens.put(token, form.getOrDefault("client_id", ""));
        String correlation = ex.getRequestHeaders().getFirst("client-request-id");
        respond(ex, 200, JSON.createObjectNode().put("token_type", "Bearer").put("expires_in", 3600)
                .put("ext_expires_in", 3600).put("access_token", token),
                correlation == null ? Map.of() : Map.of("client-request-id", correlation));
    }

    private void deployment(HttpExchange ex, Matcher m, String body) throws IOException {
        String rg = m.group(2);
        String name = m.group(3);
        String id = "/subscriptions/" + m.group(1) + "/resourceGroups/" + rg + "/providers/Microsoft.Resources/deployments/" + name;
        if (m.group(4) != null) {
            Deployment d = deployments.get(name);
            if (d != null && d.status.equals("Running")) {
                d.status = "Canceled";
            }
            respond(ex, 204, null, Map.of());
            return;
        }
        switch (ex.getRequestMethod()) {
            case "PUT" -> {
                Object[] refuse = refuseNextDeployment;
                if (refuse != null) {
                    refuseNextDeployment = null;
                    error(ex, (Integer) refuse[0], (String) refuse[1], (String) refuse[2]);
                    return;
                }
                Deployment existing = deployments.get(name);
                if (existing != null && existing.status.equals("Running")) {
                    error(ex, 409, "DeploymentActive", "The deployment '" + name + "' is already running.");
                    return;
                }
                deploymentBodies.add(JSON.readTree(body));
                Deployment d = new Deployment(name, id);
                String problem = deploy(d, rg, body);
                if (problem != null) {
                    error(ex, 400, "InvalidTemplate", problem);
                    return;
                }
                deployments.put(name, d);
                operations.put(d.operation, d);
                respond(ex, 201, deploymentJson(d, "Accepted"), Map.of(
                        "Azure-AsyncOperation", baseUrl() + "fake/operations/" + d.operation + "?api-version=2024-03-01",
                        "Retry-After", "0"));
            }
            case "GET" -> {
                Deployment d = deployments.get(name);
                if (d == null) {
                    error(ex, 404, "DeploymentNotFound", "Deployment '" + name + "' could not be found.");
                } else {
                    progress(d);
                    respond(ex, 200, deploymentJson(d, d.status), Map.of());
                }
            }
            default -> error(ex, 405, "MethodNotAllowed", ex.getRequestMethod());
        }
    }

    /** Checks the body against the SDK's models and creates the group; returns why it is invalid, or null. */
    private String deploy(Deployment d, String rg, String body) throws IOException {
        DeploymentInner parsed;
        try (JsonReader r = JsonProviders.createReader(body)) {
            parsed = DeploymentInner.fromJson(r);
        }
        if (parsed.properties() == null || parsed.properties().mode() == null
                || !parsed.properties().mode().toString().equals("Incremental")) {
            violations.add("deployment mode is not Incremental: " + body);
        }
        JsonNode request = JSON.readTree(body);
        ObjectNode template = (ObjectNode) request.path("properties").path("template");
        JsonNode parameters = request.path("properties").path("parameters");
        ArrayNode resources = (ArrayNode) template.path("resources");
        if (resources.size() != 1 || !resources.get(0).path("type").asText().equals("Microsoft.ContainerInstance/containerGroups")) {
            return "the template must hold one container group";
        }
        ObjectNode resource = (ObjectNode) resolve(resources.get(0).deepCopy(), template, parameters, rg);
        List<String> unknown = unknownFields(resource);
        if (!unknown.isEmpty()) {
            violations.add("fields unknown to ContainerGroupInner: " + unknown);
            return "The template resource has properties the container group model does not know: " + unknown;
        }
        String[] fail = failNextDeployment;
        if (fail != null) {
            failNextDeployment = null;
            d.error = deploymentError(fail[0], fail[1]);
            return null;
        }
        d.pending = () -> createGroup(d, rg, resource);
        if (!holdDeployments) {
            d.pending.run();
            d.pending = null;
        }
        return null;
    }

    /** A deployment's read: one poll more, after which it may end (creating its group first if it was held). */
    private synchronized void progress(Deployment d) {
        if (d.status.equals("Running") && !holdDeployments && d.polls.incrementAndGet() > pollsBeforeDone) {
            Runnable pending = d.pending;
            d.pending = null;
            if (pending != null) {
                pending.run();
            }
            d.status = d.error == null ? "Succeeded" : "Failed";
        }
    }

    private void createGroup(Deployment d, String rg, ObjectNode resource) {
        String name = resource.path("name").asText();
        Group group = groups.computeIfAbsent(name, n -> new Group(n, rg, resource));
        if (group.containerId == null) {
            try {
                group.containerId = start(group);
            } catch (RuntimeException e) {
                groups.remove(name);
                d.error = deploymentError("InaccessibleImage", "The image '" + resource.path("properties")
                        .path("containers").path(0).path("properties").path("image").asText() + "' in container group '"
                        + name + "' is not accessible. Please check the image and registry credential.");
            }
        }
    }

    /** Container groups that exist now. */
    int groupCount() {
        return groups.size();
    }

    private static ObjectNode deploymentError(String code, String message) {
        ObjectNode error = JSON.createObjectNode().put("code", "DeploymentFailed").put("message",
                "At least one resource deployment operation failed. Please list deployment operations for details.");
        error.putArray("details").addObject().put("code", code).put("message", message);
        return error;
    }

    /** The ARM template functions the default template uses. */
    private JsonNode resolve(JsonNode node, ObjectNode template, JsonNode parameters, String rg) {
        if (node.isTextual()) {
            String s = node.asText();
            Matcher p = Pattern.compile("\\[parameters\\('([^']+)'\\)]").matcher(s);
            if (p.matches()) {
                JsonNode value = parameters.path(p.group(1)).path("value");
                if (value.isMissingNode()) {
                    value = template.path("parameters").path(p.group(1)).path("defaultValue");
                }
                return resolve(value, template, parameters, rg);
            }
            if (s.equals("[resourceGroup().location]")) {
                return JSON.getNodeFactory().textNode(LOCATION);
            }
            if (s.equals("[uniqueString(resourceGroup().id)]")) {
                return JSON.getNodeFactory().textNode(Integer.toHexString(rg.hashCode()) + "c0");
            }
            return node;
        }
        if (node instanceof ObjectNode o) {
            o.properties().forEach(e -> e.setValue(resolve(e.getValue(), template, parameters, rg)));
        } else if (node instanceof ArrayNode a) {
            for (int i = 0; i < a.size(); i++) {
                a.set(i, resolve(a.get(i), template, parameters, rg));
            }
        }
        return node;
    }

    /** Paths present in the resource but lost when read into the SDK's model and written back. */
    static List<String> unknownFields(ObjectNode resource) throws IOException {
        ObjectNode input = resource.deepCopy();
        input.remove(List.of("apiVersion", "name", "type", "id")); // template keywords and read-only fields
        ContainerGroupInner model;
        try (JsonReader r = JsonProviders.createReader(JSON.writeValueAsString(input))) {
            model = ContainerGroupInner.fromJson(r);
        }
        JsonNode back = JSON.readTree(model.toJsonString());
        List<String> out = new ArrayList<>();
        missing("", input, back, out);
        return out;
    }

    private static void missing(String path, JsonNode in, JsonNode back, List<String> out) {
        if (in.isObject()) {
            in.properties().forEach(e -> {
                if (!back.has(e.getKey())) {
                    out.add(path + e.getKey());
                } else {
                    missing(path + e.getKey() + ".", e.getValue(), back.get(e.getKey()), out);
                }
            });
        } else if (in.isArray()) {
            for (int i = 0; i < in.size(); i++) {
                missing(path + i + ".", in.get(i), back.path(i), out);
            }
        }
    }

    private void operation(HttpExchange ex, String id) throws IOException {
        Deployment d = operations.get(id);
        if (d == null) {
            error(ex, 404, "NotFound", "no operation " + id);
            return;
        }
        progress(d);
        ObjectNode out = JSON.createObjectNode().put("status", d.status);
        if (d.status.equals("Failed")) {
            out.set("error", d.error);
        }
        respond(ex, 200, out, d.status.equals("Running") ? Map.of("Retry-After", "0") : Map.of());
    }

    private ObjectNode deploymentJson(Deployment d, String state) {
        ObjectNode out = JSON.createObjectNode().put("id", d.id).put("name", d.name)
                .put("type", "Microsoft.Resources/deployments");
        ObjectNode p = out.putObject("properties").put("provisioningState", state).put("mode", "Incremental");
        if (state.equals("Failed")) {
            p.set("error", d.error);
        }
        return out;
    }

    private void group(HttpExchange ex, Matcher m, String query) throws IOException {
        String name = m.group(3);
        Group g = groups.get(name);
        String method = ex.getRequestMethod();
        if (m.group(4) == null && method.equals("GET") && throttleGroupReads.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throttled.incrementAndGet();
            respondError(ex, 429, "TooManyRequests", "Too many requests; retry after 1 second.", Map.of("Retry-After", "1"));
            return;
        }
        if (g == null) {
            if (method.equals("DELETE")) {
                respond(ex, 204, null, Map.of()); // ARM: deleting what does not exist is no error
            } else {
                error(ex, 404, "ResourceNotFound", "The Resource 'Microsoft.ContainerInstance/containerGroups/" + name
                        + "' under resource group '" + m.group(2) + "' was not found.");
            }
            return;
        }
        try {
            existing(ex, m, query, g);
        } catch (com.github.dockerjava.api.exception.DockerException e) {
            if (groups.get(name) == g) {
                throw e;
            }
            // Deleted from outside while this request read its container (Docker answers 404 or 409 "marked for
            // removal"): ARM would already say the group is not there, so the fake says so too.
            error(ex, 404, "ResourceNotFound", "The Resource 'Microsoft.ContainerInstance/containerGroups/" + name
                    + "' under resource group '" + m.group(2) + "' was not found.");
        }
    }

    private void existing(HttpExchange ex, Matcher m, String query, Group g) throws IOException {
        String name = m.group(3);
        String method = ex.getRequestMethod();
        if (m.group(4) == null) {
            switch (method) {
                case "GET" -> respond(ex, 200, view(g), Map.of());
                case "DELETE" -> {
                    ObjectNode last = view(g);
                    deleteFromOutside(name);
                    respond(ex, 200, last, Map.of());
                }
                default -> error(ex, 405, "MethodNotAllowed", method);
            }
        } else if (m.group(4).equalsIgnoreCase("/stop") && method.equals("POST")) {
            g.stopped = true;
            if (g.containerId != null) {
                try {
                    docker.client().killContainerCmd(g.containerId).exec();
                } catch (RuntimeException e) {
                    // already ended
                }
            }
            respond(ex, 204, null, Map.of());
        } else if (method.equals("GET")) {
            int tail = query != null && query.matches(".*tail=(\\d+).*") ? Integer.parseInt(query.replaceAll(".*tail=(\\d+).*", "$1")) : 100;
            respond(ex, 200, JSON.createObjectNode().put("content", logs(g, tail)), Map.of());
        } else {
            error(ex, 405, "MethodNotAllowed", method);
        }
    }

    /** ARM's list of a resource group's container groups: as a read, but without the containers' state. */
    private void list(HttpExchange ex, String resourceGroup) throws IOException {
        ObjectNode page = JSON.createObjectNode();
        ArrayNode value = page.putArray("value");
        for (Group g : groups.values()) {
            if (g.resourceGroup.equalsIgnoreCase(resourceGroup)) {
                ObjectNode v = view(g);
                for (JsonNode c : v.path("properties").path("containers")) {
                    ((ObjectNode) c.path("properties")).remove("instanceView");
                }
                ((ObjectNode) v.path("properties")).remove("instanceView");
                value.add(v);
            }
        }
        respond(ex, 200, page, Map.of());
    }

    /** The group as ARM returns it: secure values left out, the container's real state in its instance view. */
    private ObjectNode view(Group g) {
        ObjectNode out = g.resource.deepCopy();
        out.remove("apiVersion");
        out.put("id", "/subscriptions/x/resourceGroups/" + g.resourceGroup
                + "/providers/Microsoft.ContainerInstance/containerGroups/" + g.name);
        ObjectNode props = (ObjectNode) out.get("properties");
        props.put("provisioningState", "Succeeded");
        for (JsonNode c : props.path("containers")) {
            for (JsonNode env : c.path("properties").path("environmentVariables")) {
                ((ObjectNode) env).remove("secureValue");
            }
        }
        ObjectNode current = JSON.createObjectNode();
        InspectContainerResponse.ContainerState s = g.containerId == null ? null
                : docker.client().inspectContainerCmd(g.containerId).exec().getState();
        if (s == null || "created".equals(s.getStatus())) {
            current.put("state", "Waiting").put("detailStatus", "ContainerCreating");
        } else if (Boolean.TRUE.equals(s.getRunning())) {
            current.put("state", "Running").put("startTime", s.getStartedAt()).put("detailStatus", "");
        } else {
            current.put("state", "Terminated").put("exitCode", s.getExitCodeLong().intValue())
                    .put("startTime", s.getStartedAt()).put("finishTime", s.getFinishedAt()).put("detailStatus", "Completed");
        }
        ObjectNode view = ((ObjectNode) props.path("containers").path(0).path("properties")).putObject("instanceView");
        view.put("restartCount", 0).set("currentState", current);
        view.putArray("events");
        props.putObject("instanceView").put("state", g.stopped ? "Stopped"
                : current.path("state").asText().equals("Terminated") ? "Succeeded" : "Running");
        return out;
    }

    private String start(Group g) {
        JsonNode c = g.resource.path("properties").path("containers").path(0).path("properties");
        List<String> env = new ArrayList<>();
        for (JsonNode e : c.path("environmentVariables")) {
            env.add(e.path("name").asText() + "=" + (e.has("secureValue") ? e.path("secureValue").asText() : e.path("value").asText()));
        }
        List<String> cmd = new ArrayList<>();
        c.path("command").forEach(a -> cmd.add(a.asText()));
        String id = docker.client().createContainerCmd(c.path("image").asText())
                .withCmd(cmd).withEnv(env).withLabels(Map.of(label, instance, "pworker-test.aci-group", g.name))
                .withHostConfig(com.github.dockerjava.api.model.HostConfig.newHostConfig().withNetworkMode("none"))
                .exec().getId();
        docker.client().startContainerCmd(id).exec();
        return id;
    }

    private String logs(Group g, int tail) {
        if (g.containerId == null) {
            return "";
        }
        StringBuilder out = new StringBuilder();
        try {
            docker.client().logContainerCmd(g.containerId).withStdOut(true).withStdErr(true).withTimestamps(true)
                    .withTail(tail).exec(new com.github.dockerjava.api.async.ResultCallback.Adapter<Frame>() {
                        @Override
                        public void onNext(Frame frame) {
                            out.append(new String(frame.getPayload(), StandardCharsets.UTF_8));
                        }
                    }).awaitCompletion(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return out.toString();
    }

    private void removeContainer(String id) {
        try {
            docker.client().removeContainerCmd(id).withForce(true).exec();
        } catch (NotFoundException e) {
            // gone
        }
    }

    private void error(HttpExchange ex, int status, String code, String message) throws IOException {
        respondError(ex, status, code, message, Map.of());
    }

    private void respondError(HttpExchange ex, int status, String code, String message, Map<String, String> headers)
            throws IOException {
        ObjectNode body = JSON.createObjectNode();
        body.putObject("error").put("code", code).put("message", message);
        respond(ex, status, body, headers);
    }

    private static void respond(HttpExchange ex, int status, JsonNode body, Map<String, String> headers) throws IOException {
        headers.forEach((k, v) -> ex.getResponseHeaders().add(k, v));
        ex.getResponseHeaders().add("x-ms-request-id", UUID.randomUUID().toString());
        if (body == null) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.getResponseHeaders().add("Content-Type", "application/json; charset=utf-8");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
    }
}
