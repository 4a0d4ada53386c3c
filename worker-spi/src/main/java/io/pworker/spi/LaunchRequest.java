package io.pworker.spi;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One flow run to launch.
 *
 * @param run           who and what the run is
 * @param configuration the rendered job configuration, with blocks and variables resolved and Prefect's
 *                      common preparation applied: {@code env} is the final string map the flow run must
 *                      see (Prefect's injected variables included, null values removed), {@code labels} holds
 *                      the {@code prefect.io/*} labels, {@code name} is set, and {@code command} defaults to
 *                      {@code prefect flow-run execute}. Other keys are the type's own, as the template made
 *                      them; the launcher validates them and throws {@link LaunchException} naming the key.
 * @param log           messages for the user; they reach the worker's log and the flow run's log in Prefect
 */
public record LaunchRequest(FlowRunInfo run, ObjectNode configuration, RunLog log) {
}
