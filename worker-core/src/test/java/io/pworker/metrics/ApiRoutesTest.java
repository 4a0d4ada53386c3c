package io.pworker.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ApiRoutesTest {

    @Test
    void idsNamesAndQueriesLeaveTheRoute() {
        assertThat(ApiRoutes.route("/flow_runs/0b1e6c2a-5f3d-4c1e-9a7b-2d4c6e8f0a1b/set_state"))
                .isEqualTo("/flow_runs/{id}/set_state");
        assertThat(ApiRoutes.route("/work_pools/my-pool/get_scheduled_flow_runs")).isEqualTo("/work_pools/{name}/get_scheduled_flow_runs");
        assertThat(ApiRoutes.route("/work_pools/my-pool/queues/default")).isEqualTo("/work_pools/{name}/queues/{name}");
        assertThat(ApiRoutes.route("/deployments/name/etl/nightly")).isEqualTo("/deployments/name/{name}/{name}");
        assertThat(ApiRoutes.route("/variables/name/region")).isEqualTo("/variables/name/{name}");
        assertThat(ApiRoutes.route("/csrf-token?client=abc")).isEqualTo("/csrf-token");
        assertThat(ApiRoutes.route("/flow_runs/filter")).isEqualTo("/flow_runs/filter");
    }
}
