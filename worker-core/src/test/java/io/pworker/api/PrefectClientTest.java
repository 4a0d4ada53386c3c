package io.pworker.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.settings.Settings;
import io.pworker.testkit.FakePrefectServer;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Answers the client cannot read are errors that name the call, never values a caller would act on. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PrefectClientTest {

    private FakePrefectServer prefect;
    private PrefectClient client;

    @BeforeEach
    void setUp() throws Exception {
        prefect = FakePrefectServer.start();
        prefect.createWorkPool("pool", "process", new ObjectMapper().readTree("{}"));
        client = new PrefectClient(new PrefectHttp(Settings.from(prefect.workerSettings("PREFECT_CLIENT_MAX_RETRIES", "0")),
                "w1", "test"));
    }

    @AfterEach
    void tearDown() {
        client.close();
        prefect.close();
    }

    @Test
    void answersOfTheWrongShapeNameTheCallAndWhatCameBack() {
        prefect.answerNext("POST", "/work_pools/pool/get_scheduled_flow_runs", 200, "application/json", "{\"runs\": []}", 1);
        assertThatThrownBy(() -> client.scheduledFlowRuns("pool", List.of(), Instant.now()))
                .isInstanceOf(ApiException.class)
                .hasMessage("POST /work_pools/pool/get_scheduled_flow_runs: the Prefect API answered 200 with JSON of the "
                        + "wrong shape: expected an array, got an object");
        prefect.answerNext("POST", "/work_pools/pool/get_scheduled_flow_runs", 200, "application/json", "[1]", 1);
        assertThatThrownBy(() -> client.scheduledFlowRuns("pool", List.of(), Instant.now()))
                .hasMessageContaining("expected an array of objects");
        prefect.answerNext("POST", "/flow_runs/x/set_state", 201, "application/json", "{}", 1);
        assertThatThrownBy(() -> client.setState("x", "PENDING", "Pending", null, false))
                .hasMessageContaining("expected an orchestration result with a 'status'");
        prefect.answerNext("GET", "/deployments/d", 200, "application/json", "", 1);
        assertThatThrownBy(() -> client.readDeployment("d")).hasMessageContaining("got no body");
    }

    @Test
    void aBodyThatIsNotJsonIsAnError() {
        prefect.answerNext("GET", "/work_pools/pool", 200, "text/html", "<!DOCTYPE html>\n<html>\n  <p>Login</p>", 1);
        assertThatThrownBy(() -> client.readWorkPool("pool")).isInstanceOf(ApiException.class)
                .hasMessageContaining("GET /work_pools/pool: the Prefect API at " + prefect.apiUrl()
                        + " answered 200 with a body that is not JSON (starts with '<!DOCTYPE html> <html> <p>Login</p>')");
    }

    @Test
    void notFoundStillMeansNotFound() throws Exception {
        assertThat(client.readWorkPool("missing")).isEmpty();
        assertThat(client.readDeployment("00000000-0000-0000-0000-000000000000")).isEmpty();
    }

    @Test
    void aPoolCreationAnswered404PointsAtTheApiUrl() {
        prefect.answerNext("POST", "/work_pools/", 404, "application/json", "{\"detail\": \"Not Found\"}", 1);
        assertThatThrownBy(() -> client.createWorkPool("new", "process", null))
                .hasMessageContaining("POST /work_pools/ failed with HTTP 404: Not Found")
                .hasMessageContaining("ending in /api?");
    }
}
