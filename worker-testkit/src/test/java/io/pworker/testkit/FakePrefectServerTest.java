package io.pworker.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FakePrefectServerTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private FakePrefectServer prefect;
    private String deployment;

    @BeforeEach
    void start() throws Exception {
        prefect = FakePrefectServer.start();
        prefect.createWorkPool("pool", "process", JSON.readTree("{}"));
        deployment = prefect.createDeployment(prefect.createFlow("f"), "d", "pool", JSON.readTree("{}"));
    }

    @AfterEach
    void stop() {
        prefect.close();
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(prefect.apiUrl() + path)).header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String proposal(String runId, String type, String name, String transition, boolean force) {
        return """
                {"state": {"type": "%s", "name": "%s", "message": null, "data": null,
                           "state_details": {"flow_run_id": "%s", "transition_id": "%s"}}, "force": %s}
                """.formatted(type, name, runId, transition, force);
    }

    private JsonNode propose(String runId, String type, String name, boolean force) throws Exception {
        HttpResponse<String> r = send("POST", "/flow_runs/" + runId + "/set_state",
                proposal(runId, type, name, UUID.randomUUID().toString(), force));
        assertThat(r.statusCode()).isEqualTo(JSON.readTree(r.body()).path("status").asText().equals("ACCEPT") ? 201 : 200);
        return JSON.readTree(r.body());
    }

    static Stream<Arguments> orchestration() {
        return Stream.of(
                Arguments.of("scheduledToPendingIsAccepted", "SCHEDULED", "PENDING", "Pending", false, "ACCEPT"),
                Arguments.of("secondPendingClaimIsAborted", "PENDING", "PENDING", "Pending", false, "ABORT"),
                // the fake claims 3.4.25 unless told otherwise; that release aborts every PENDING -> PENDING
                Arguments.of("submittingAfterPendingIsAbortedBy34", "PENDING", "PENDING", "Submitting", false, "ABORT"),
                Arguments.of("runningCannotBeClaimed", "RUNNING", "PENDING", "Pending", false, "ABORT"),
                Arguments.of("terminalStatesStick", "COMPLETED", "CRASHED", "Crashed", false, "ABORT"),
                Arguments.of("cancelledSticks", "CANCELLED", "RUNNING", "Running", false, "ABORT"),
                Arguments.of("cancellingRejectsCrashed", "CANCELLING", "CRASHED", "Crashed", false, "REJECT"),
                Arguments.of("cancellingAcceptsCancelled", "CANCELLING", "CANCELLED", "Cancelled", false, "ACCEPT"),
                Arguments.of("forceWinsOverTerminal", "COMPLETED", "CANCELLED", "Cancelled", true, "ACCEPT"),
                Arguments.of("pendingToRunningIsAccepted", "PENDING", "RUNNING", "Running", false, "ACCEPT"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("orchestration")
    void orchestrationRules(String rule, String from, String type, String name, boolean force, String expected) throws Exception {
        String run = prefect.createFlowRun(deployment, "{}");
        if (!from.equals("SCHEDULED")) {
            prefect.setFlowRunState(run, from, from.charAt(0) + from.substring(1).toLowerCase());
        }
        assertThat(propose(run, type, name, force).path("status").asText()).isEqualTo(expected);
        prefect.assertNoContractViolations();
    }

    @Test
    void aServerOf38TakesASecondPendingStateUnderAnotherName() throws Exception {
        prefect.setServerVersion("3.8.3");
        String run = prefect.createFlowRun(deployment, "{}");
        prefect.setFlowRunState(run, "PENDING", "Pending");
        assertThat(propose(run, "PENDING", "Submitting", false).path("status").asText()).isEqualTo("ACCEPT");
        assertThat(propose(run, "PENDING", "Submitting", false).path("status").asText()).isEqualTo("ABORT");
        prefect.assertNoContractViolations();
    }

    @Test
    void aRepeatedTransitionIdIsAnAlreadyMadeTransition() throws Exception {
        String run = prefect.createFlowRun(deployment, "{}");
        String body = proposal(run, "PENDING", "Pending", UUID.randomUUID().toString(), false);
        assertThat(JSON.readTree(send("POST", "/flow_runs/" + run + "/set_state", body).body()).path("status").asText())
                .isEqualTo("ACCEPT");
        JsonNode again = JSON.readTree(send("POST", "/flow_runs/" + run + "/set_state", body).body());
        assertThat(again.path("status").asText()).isEqualTo("REJECT");
        assertThat(again.path("state").path("type").asText()).isEqualTo("PENDING");
    }

    @Test
    void invalidRequestsGetA422AndAreRecorded() throws Exception {
        HttpResponse<String> wrongType = send("POST", "/work_pools/pool/workers/heartbeat",
                "{\"name\": \"w\", \"heartbeat_interval_seconds\": \"soon\"}");
        assertThat(wrongType.statusCode()).isEqualTo(422);
        HttpResponse<String> missing = send("POST", "/work_pools/pool/get_scheduled_flow_runs", "{\"work_queue_names\": 3}");
        assertThat(missing.statusCode()).isEqualTo(422);
        HttpResponse<String> badState = send("POST", "/flow_runs/" + UUID.randomUUID() + "/set_state", "{\"force\": false}");
        assertThat(badState.statusCode()).isEqualTo(422);
        assertThat(prefect.contractViolations()).anyMatch(v -> v.contains("/workers/heartbeat"))
                .anyMatch(v -> v.contains("/get_scheduled_flow_runs")).anyMatch(v -> v.contains("/set_state"));
    }

    @Test
    void theRealWorkersRecordedRequestsPassTheContract() throws Exception {
        // a copy of ../shared/prefect/traffic/traffic.jsonl: Prefect 3.4's process worker against a real server
        List<String> lines;
        try (var in = FakePrefectServerTest.class.getResourceAsStream("recorded-process-worker-traffic.jsonl")) {
            lines = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        }
        int checked = 0;
        for (String line : lines) {
            JsonNode x = JSON.readTree(line);
            String method = x.path("method").asText("");
            String path = x.path("path").asText("");
            if (!x.path("kind").asText().equals("http") || !path.startsWith("/api/") || path.contains("/events/")) {
                continue;
            }
            JsonNode body = x.get("req_body");
            String text = body == null || body.isNull() ? null : body.isTextual() ? body.asText() : body.toString();
            String pathOnly = path.substring(4).split("\\?")[0];
            String query = path.contains("?") ? path.substring(path.indexOf('?') + 1) : null;
            if (text != null && text.isBlank()) {
                text = null;
            }
            List<String> problems = ContractValidator.get().checkRequest(method, pathOnly, query, "application/json", text);
            // Prefect's own client sends nulls the document does not allow in two filter bodies; pworker omits them
            problems.removeIf(p -> p.contains("/queues/filter") || p.contains("/flow_runs/filter"));
            assertThat(problems).as(method + " " + path).isEmpty();
            checked++;
        }
        assertThat(checked).isGreaterThan(20);
    }

    @Test
    void scheduledRunsAreFilteredByTimeQueueAndPause() throws Exception {
        String due = prefect.createFlowRun(deployment, "{}");
        prefect.createFlowRun(deployment, null, java.time.Instant.now().plusSeconds(3600), null);
        prefect.createWorkQueue("pool", "other");
        String other = prefect.createFlowRun(deployment, null, java.time.Instant.now(), "other");
        String before = "\"" + java.time.Instant.now().plusSeconds(5) + "\"";
        JsonNode all = JSON.readTree(send("POST", "/work_pools/pool/get_scheduled_flow_runs",
                "{\"work_queue_names\": [], \"scheduled_before\": " + before + "}").body());
        assertThat(all).extracting(n -> n.path("flow_run").path("id").asText()).containsExactlyInAnyOrder(due, other);
        JsonNode onlyOther = JSON.readTree(send("POST", "/work_pools/pool/get_scheduled_flow_runs",
                "{\"work_queue_names\": [\"other\"], \"scheduled_before\": " + before + "}").body());
        assertThat(onlyOther).extracting(n -> n.path("flow_run").path("id").asText()).containsExactly(other);
        assertThat(send("POST", "/work_pools/pool/get_scheduled_flow_runs",
                "{\"work_queue_names\": [\"typo\"], \"scheduled_before\": " + before + "}").statusCode()).isEqualTo(404);
        prefect.pauseWorkPool("pool", true);
        assertThat(JSON.readTree(send("POST", "/work_pools/pool/get_scheduled_flow_runs",
                "{\"work_queue_names\": [], \"scheduled_before\": " + before + "}").body())).isEmpty();
        prefect.assertNoContractViolations();
    }

    @Test
    void eventSocketsAuthenticateRecordAndPushCancellingEvents() throws Exception {
        LinkedBlockingQueue<String> received = new LinkedBlockingQueue<>();
        WebSocket.Listener listener = new WebSocket.Listener() {
            @Override
            public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                received.add(data.toString());
                ws.request(1);
                return null;
            }
        };
        WebSocket out = http.newWebSocketBuilder().subprotocols("prefect")
                .buildAsync(URI.create(prefect.apiUrl().replace("http", "ws") + "/events/out"), listener).get(5, TimeUnit.SECONDS);
        out.sendText("{\"type\": \"auth\", \"token\": null}", true).get();
        assertThat(received.poll(5, TimeUnit.SECONDS)).contains("auth_success");
        String poolId = prefect.workPool("pool").path("id").asText();
        out.sendText("{\"type\": \"filter\", \"filter\": {\"event\": {\"name\": [\"prefect.flow-run.Cancelling\"]},"
                + " \"any_resource\": {\"id\": [\"prefect.work-pool." + poolId + "\"]}}}", true).get();
        FakePrefectServer.await(Duration.ofSeconds(5), () -> prefect.eventSubscriberCount() == 1, "subscribed");
        String run = prefect.createFlowRun(deployment, "{}");
        prefect.setFlowRunState(run, "CANCELLING", "Cancelling");
        JsonNode pushed = JSON.readTree(received.poll(5, TimeUnit.SECONDS));
        assertThat(pushed.path("event").path("resource").path("prefect.resource.id").asText()).isEqualTo("prefect.flow-run." + run);
        out.abort();

        prefect.setEventsSocketEnabled(false);
        assertThat(http.newWebSocketBuilder().subprotocols("prefect")
                .buildAsync(URI.create(prefect.apiUrl().replace("http", "ws") + "/events/in"), listener)
                .handle((ws, e) -> e).get(5, TimeUnit.SECONDS)).isNotNull();
        prefect.assertNoContractViolations();
    }

    @Test
    void faultsCanBeInjected() throws Exception {
        prefect.failNext("GET", "/work_pools/pool", 429, 1, 1.5);
        HttpResponse<String> limited = send("GET", "/work_pools/pool", null);
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(limited.headers().firstValue("Retry-After")).contains("1.5");
        assertThat(send("GET", "/work_pools/pool", null).statusCode()).isEqualTo(200);
        prefect.setAvailable(false);
        assertThat(send("GET", "/work_pools/pool", null).statusCode()).isEqualTo(503);
    }

    private WebSocket socket(String path, boolean prefectProtocol, LinkedBlockingQueue<String> received) throws Exception {
        WebSocket.Builder b = http.newWebSocketBuilder();
        if (prefectProtocol) {
            b.subprotocols("prefect");
        }
        return b.buildAsync(URI.create(prefect.apiUrl().replace("http", "ws") + path), new WebSocket.Listener() {
            @Override
            public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
                received.add(data.toString());
                ws.request(1);
                return null;
            }

            @Override
            public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
                received.add("closed " + code + " " + reason);
                return null;
            }

            @Override
            public void onError(WebSocket ws, Throwable error) {
                received.add("dropped");
            }
        }).get(5, TimeUnit.SECONDS);
    }

    private static String event(String name) {
        return "{\"occurred\": \"2026-11-29T12:00:00.000000Z\", \"event\": \"" + name + "\", \"resource\": "
                + "{\"prefect.resource.id\": \"prefect.worker.process.w\"}, \"related\": [], \"payload\": {}, "
                + "\"id\": \"" + UUID.randomUUID() + "\", \"follows\": null}";
    }

    @Test
    void asA3425ServerEventsInTakesPlainEventsAndDropsTheSocketOnAnAuthMessage() throws Exception {
        assertThat(send("GET", "/admin/version", null).body()).isEqualTo("\"3.4.25\"");
        LinkedBlockingQueue<String> received = new LinkedBlockingQueue<>();
        WebSocket plain = socket("/events/in", true, received);
        assertThat(plain.getSubprotocol()).as("3.4.25 selects no subprotocol on /events/in").isEmpty();
        plain.sendText(event("e.one"), true).get();
        plain.sendText(event("e.two"), true).get();
        FakePrefectServer.await(Duration.ofSeconds(5), () -> prefect.eventCount("e.two") == 1, "events recorded");
        plain.abort();
        prefect.assertNoContractViolations();

        WebSocket withAuth = socket("/events/in", true, received);
        withAuth.sendText("{\"type\": \"auth\", \"token\": null}", true).get();
        // 1006: the connection ended without a close frame
        assertThat(received.poll(5, TimeUnit.SECONDS)).isIn("closed 1006 ", "dropped");
        assertThat(prefect.contractViolations()).singleElement().asString().contains("auth message");
    }

    @Test
    void asA383ServerEventsInWantsTheAuthMessageWithTheSubprotocolAndPlainEventsWithout() throws Exception {
        prefect.setServerVersion("3.8.3");
        assertThat(send("GET", "/admin/version", null).body()).isEqualTo("\"3.8.3\"");
        LinkedBlockingQueue<String> received = new LinkedBlockingQueue<>();
        WebSocket handshake = socket("/events/in", true, received);
        assertThat(handshake.getSubprotocol()).isEqualTo("prefect");
        handshake.sendText("{\"type\": \"auth\", \"token\": null}", true).get();
        assertThat(received.poll(5, TimeUnit.SECONDS)).contains("auth_success");
        handshake.sendText(event("e.after-auth"), true).get();
        WebSocket legacy = socket("/events/in", false, received);
        legacy.sendText(event("e.plain"), true).get();
        FakePrefectServer.await(Duration.ofSeconds(5), () -> prefect.eventCount("e.after-auth") == 1
                && prefect.eventCount("e.plain") == 1, "both events recorded");
        prefect.assertNoContractViolations();

        WebSocket noAuth = socket("/events/in", true, received);
        noAuth.sendText(event("e.too-early"), true).get();
        assertThat(received.poll(5, TimeUnit.SECONDS)).isEqualTo("closed 1008 Expected 'auth' message");
        assertThat(prefect.eventCount("e.too-early")).isZero();
        handshake.abort();
        legacy.abort();
    }

    @Test
    void eventsOutWantsTheSubprotocolOn3425AndTheFilterFirstWithoutItOn383() throws Exception {
        LinkedBlockingQueue<String> received = new LinkedBlockingQueue<>();
        assertThat(http.newWebSocketBuilder().buildAsync(URI.create(prefect.apiUrl().replace("http", "ws") + "/events/out"),
                new WebSocket.Listener() { }).handle((ws, e) -> e).get(5, TimeUnit.SECONDS))
                .hasStackTraceContaining("403");
        prefect.setServerVersion("3.8.3");
        WebSocket out = socket("/events/out", false, received);
        out.sendText("{\"type\": \"auth\", \"token\": null}", true).get();
        assertThat(received.poll(5, TimeUnit.SECONDS)).isEqualTo("closed 1002 Expected 'filter' message");
        assertThat(prefect.upgradeCount("/events/out")).isEqualTo(2);
    }

    @Test
    void answersOutagesAndLostResponsesCanBeInjected() throws Exception {
        prefect.answerNext("GET", "/work_pools/pool", 200, "text/html", "<html>proxy</html>", 1);
        HttpResponse<String> html = send("GET", "/work_pools/pool", null);
        assertThat(html.statusCode()).isEqualTo(200);
        assertThat(html.headers().firstValue("Content-Type")).contains("text/html");
        assertThat(html.body()).isEqualTo("<html>proxy</html>");

        String run = prefect.createFlowRun(deployment, "{}");
        prefect.loseResponsesNext("POST", "/flow_runs/[^/]+/set_state", 1);
        String claim = proposal(run, "PENDING", "Pending", UUID.randomUUID().toString(), false);
        assertThat(send("POST", "/flow_runs/" + run + "/set_state", claim).statusCode()).isEqualTo(502);
        assertThat(prefect.stateType(run)).as("carried out all the same").isEqualTo("PENDING");
        JsonNode again = JSON.readTree(send("POST", "/flow_runs/" + run + "/set_state", claim).body());
        assertThat(again.path("status").asText()).isEqualTo("REJECT");
        assertThat(again.path("state").path("type").asText()).isEqualTo("PENDING");

        prefect.outageOn("GET", "/flows/.*", Duration.ofMillis(800));
        assertThat(send("GET", "/work_pools/pool", null).statusCode()).isEqualTo(200);
        assertThat(send("GET", "/flows/" + UUID.randomUUID(), null).statusCode()).isEqualTo(503);
        assertThat(send("GET", "/work_pools/pool", null).statusCode()).isEqualTo(503);
        Thread.sleep(900);
        assertThat(send("GET", "/work_pools/pool", null).statusCode()).isEqualTo(200);
        assertThat(prefect.unavailableAnswers()).isEqualTo(2);
    }
}
