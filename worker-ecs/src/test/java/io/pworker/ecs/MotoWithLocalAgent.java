package io.pworker.ecs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A thin test wrapper around moto, which never runs a container: an HTTP proxy in front of moto that records every
 * ECS call and, when {@link #runCommandsLocally} is on, plays the part of the ECS container agent. It then runs
 * each new task's flow-run command (the container override's command; the image is ignored) as a local process
 * and makes DescribeTasks report what that process does: RUNNING while it lives, STOPPED with its real exit code
 * when it ends. StopTask sends it SIGTERM and, after the container's {@code stopTimeout} (30 s unless the task
 * definition sets one), SIGKILL, as ECS does. {@link #failNextTaskToStart} makes the next task stop the way ECS
 * reports an image that cannot be pulled. Everything else is moto's answer, unchanged.
 */
final class MotoWithLocalAgent implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> HOP_HEADERS = Set.of("host", "connection", "content-length", "expect", "upgrade",
            "transfer-encoding");

    record Call(String operation, JsonNode request) {
    }

    /** A task the agent runs; the fields are written by the agent's threads and read by DescribeTasks. */
    private static final class LocalTask {
        final String container;
        final Process process;
        final String failedToStart;
        final java.util.concurrent.atomic.AtomicInteger describes = new java.util.concurrent.atomic.AtomicInteger();
        volatile String stopReason;

        LocalTask(String container, Process process, String failedToStart) {
            this.container = container;
            this.process = process;
            this.failedToStart = failedToStart;
        }
    }

    final URI endpoint;
    private final MotoServer moto;
    private final HttpServer server;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private final Map<String, LocalTask> tasks = new ConcurrentHashMap<>();
    private final Queue<String> failToStart = new ConcurrentLinkedQueue<>();
    private final Map<String, Duration> delays = new ConcurrentHashMap<>();
    volatile boolean runCommandsLocally;
    /** How many DescribeTasks calls show a new task PROVISIONING, then PENDING, before what its process does. */
    volatile int pendingPolls;

    MotoWithLocalAgent(MotoServer moto) throws IOException {
        this.moto = moto;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", this::handle);
        server.start();
        endpoint = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    /** The request bodies of every call of one ECS operation, e.g. {@code RunTask}, in order. */
    List<JsonNode> requests(String operation) {
        return calls.stream().filter(c -> c.operation().equals(operation)).map(Call::request).toList();
    }

    int count(String operation) {
        return requests(operation).size();
    }

    void forgetCalls() {
        calls.clear();
    }

    /** Holds the answer to every call of {@code operation} (an ECS operation or a query Action) for {@code delay}. */
    void delay(String operation, Duration delay) {
        delays.put(operation, delay);
    }

    /** The next task the agent sees stops before starting, with {@code reason} as ECS's stoppedReason. */
    void failNextTaskToStart(String reason) {
        failToStart.add(reason);
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            byte[] body = exchange.getRequestBody().readAllBytes();
            String target = exchange.getRequestHeaders().getFirst("X-Amz-Target");
            String operation = target != null ? target.substring(target.lastIndexOf('.') + 1) : action(body);
            boolean ecs = target != null && target.startsWith("AmazonEC2ContainerService");
            JsonNode request = ecs ? JSON.readTree(body.length == 0 ? "{}".getBytes() : body) : JSON.createObjectNode();
            // recorded before it is answered, so that a test sees a call in flight
            calls.add(new Call(operation, request));
            HttpResponse<byte[]> answer = forward(exchange, body);
            Duration delay = delays.get(operation);
            if (delay != null) {
                Thread.sleep(delay);
            }
            byte[] out = answer.body();
            if (ecs && answer.statusCode() == 200) {
                out = switch (operation) {
                    case "RunTask" -> started(request, exchange, out);
                    case "DescribeTasks" -> described(out);
                    case "StopTask" -> stopped(request, out);
                    default -> out;
                };
            }
            answer.headers().map().forEach((k, v) -> {
                if (!HOP_HEADERS.contains(k.toLowerCase()) && !k.startsWith(":")) {
                    exchange.getResponseHeaders().put(k, v);
                }
            });
            exchange.sendResponseHeaders(answer.statusCode(), out.length == 0 ? -1 : out.length);
            exchange.getResponseBody().write(out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The Action of a query-protocol call (EC2, STS). */
    private static String action(byte[] body) {
        for (String pair : new String(body, java.nio.charset.StandardCharsets.UTF_8).split("&")) {
            if (pair.startsWith("Action=")) {
                return pair.substring("Action=".length());
            }
        }
        return "";
    }

    private HttpResponse<byte[]> forward(HttpExchange exchange, byte[] body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(moto.endpoint.resolve(exchange.getRequestURI().toString()))
                .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.ofByteArray(body))
                .timeout(Duration.ofSeconds(30));
        exchange.getRequestHeaders().forEach((k, v) -> {
            if (!HOP_HEADERS.contains(k.toLowerCase())) {
                v.forEach(value -> b.header(k, value));
            }
        });
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private byte[] started(JsonNode request, HttpExchange exchange, byte[] response) throws IOException {
        if (!runCommandsLocally) {
            return response;
        }
        for (JsonNode task : JSON.readTree(response).path("tasks")) {
            String arn = task.path("taskArn").asText();
            JsonNode override = null;
            for (JsonNode o : request.path("overrides").path("containerOverrides")) {
                if (o.has("command")) {
                    override = o;
                }
            }
            String reason = failToStart.poll();
            if (reason != null || override == null) {
                tasks.put(arn, new LocalTask("prefect", null, reason != null ? reason : "the test agent found no command"));
                continue;
            }
            List<String> command = new ArrayList<>();
            override.path("command").forEach(w -> command.add(w.asText()));
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD);
            override.path("environment").forEach(e -> pb.environment().put(e.path("name").asText(), e.path("value").asText()));
            LocalTask local = new LocalTask(override.path("name").asText(), pb.start(), null);
            tasks.put(arn, local);
            Map<String, List<String>> headers = Map.copyOf(exchange.getRequestHeaders());
            String cluster = request.path("cluster").asText("default");
            // as ECS does, a task whose essential container exits is stopped; moto learns it from the agent
            local.process.onExit().thenRun(() -> {
                if (local.stopReason == null) {
                    call(headers, "StopTask", "{\"cluster\": \"" + cluster + "\", \"task\": \"" + arn
                            + "\", \"reason\": \"Essential container in task exited\"}");
                }
            });
        }
        return response;
    }

    private byte[] described(byte[] response) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(response);
        for (JsonNode t : root.path("tasks")) {
            LocalTask local = tasks.get(t.path("taskArn").asText());
            if (local == null) {
                continue;
            }
            ObjectNode task = (ObjectNode) t;
            if (local.failedToStart != null) {
                task.put("lastStatus", "STOPPED").put("desiredStatus", "STOPPED").put("stopCode", "TaskFailedToStart")
                        .put("stoppedReason", local.failedToStart);
                for (JsonNode c : task.path("containers")) {
                    ((ObjectNode) c).put("lastStatus", "STOPPED").put("reason", local.failedToStart).remove("exitCode");
                }
                continue;
            }
            int seen = local.describes.incrementAndGet();
            if (seen <= pendingPolls) {
                task.put("lastStatus", seen == 1 ? "PROVISIONING" : "PENDING");
                for (JsonNode c : task.path("containers")) {
                    ((ObjectNode) c).put("lastStatus", "PENDING").remove("exitCode");
                }
                continue;
            }
            boolean alive = local.process.isAlive();
            task.put("lastStatus", alive ? "RUNNING" : "STOPPED");
            task.put("desiredStatus", alive && local.stopReason == null ? "RUNNING" : "STOPPED");
            if (!alive) {
                task.put("stopCode", local.stopReason != null ? "UserInitiated" : "EssentialContainerExited");
                task.put("stoppedReason", local.stopReason != null ? local.stopReason : "Essential container in task exited");
            }
            for (JsonNode c : task.path("containers")) {
                ObjectNode container = (ObjectNode) c;
                container.put("lastStatus", alive ? "RUNNING" : "STOPPED");
                if (alive) {
                    container.remove("exitCode");
                } else {
                    container.put("exitCode", local.process.exitValue());
                }
            }
        }
        return JSON.writeValueAsBytes(root);
    }

    private byte[] stopped(JsonNode request, byte[] response) {
        String arn = request.path("task").asText();
        LocalTask local = tasks.entrySet().stream().filter(e -> e.getKey().endsWith(arn.substring(arn.lastIndexOf('/') + 1)))
                .map(Map.Entry::getValue).findFirst().orElse(null);
        if (local == null || local.process == null || !local.process.isAlive()) {
            return response;
        }
        local.stopReason = request.path("reason").asText("Task stopped by user");
        int stopTimeout = 30;
        JsonNode definition = JSON.valueToTree(Map.of());
        try {
            JsonNode task = JSON.readTree(response).path("task");
            definition = JSON.readTree(call(Map.of(), "DescribeTaskDefinition",
                    "{\"taskDefinition\": \"" + task.path("taskDefinitionArn").asText() + "\"}"));
        } catch (IOException e) {
            // keep the default
        }
        for (JsonNode c : definition.path("taskDefinition").path("containerDefinitions")) {
            if (c.path("name").asText().equals(local.container) && c.has("stopTimeout")) {
                stopTimeout = c.get("stopTimeout").asInt();
            }
        }
        local.process.descendants().forEach(ProcessHandle::destroy);
        local.process.destroy();
        Duration grace = Duration.ofSeconds(stopTimeout);
        Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(grace);
            } catch (InterruptedException e) {
                return;
            }
            local.process.descendants().forEach(ProcessHandle::destroyForcibly);
            local.process.destroyForcibly();
        });
        return response;
    }

    /** An ECS call of the agent's own, straight to moto (which checks no signature). */
    private String call(Map<String, List<String>> headers, String operation, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(moto.endpoint.resolve("/"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(Duration.ofSeconds(30))
                .header("X-Amz-Target", "AmazonEC2ContainerServiceV20141113." + operation)
                .header("Content-Type", "application/x-amz-json-1.1");
        List<String> auth = headers.get("Authorization");
        b.header("Authorization", auth != null ? auth.getFirst() : "AWS4-HMAC-SHA256 Credential=testing/20250101/"
                + MotoServer.REGION + "/ecs/aws4_request, SignedHeaders=host, Signature=0");
        try {
            return http.send(b.build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException | InterruptedException e) {
            return "{}";
        }
    }

    @Override
    public void close() {
        server.stop(0);
        for (LocalTask t : tasks.values()) {
            if (t.process != null) {
                t.process.descendants().forEach(ProcessHandle::destroyForcibly);
                t.process.destroyForcibly();
            }
        }
    }
}
