package io.pworker.worker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.api.ApiException;
import io.pworker.api.Deployment;
import io.pworker.api.Flow;
import io.pworker.api.FlowRun;
import io.pworker.api.PrefectObjects;
import io.pworker.api.WorkPool;
import io.pworker.spi.FlowRunInfo;
import io.pworker.template.JobTemplateRenderer;
import io.pworker.template.JobVariables;
import io.pworker.template.JobVariablesValidator;
import io.pworker.template.TemplateException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * Builds a flow run's job configuration from the pool's template, the deployment's and the run's job variables
 * (worker-spec §2.3–2.6): validate, render, resolve blocks and variables, then Prefect's common preparation. Used
 * to launch a run and, after a restart, to give {@code recover}, {@code kill} and {@code release} the run's
 * configuration again, as Prefect re-renders it before a kill.
 */
final class ConfigurationBuilder {

    private final PrefectObjects prefect;
    private final JobTemplateRenderer renderer;
    private final JobVariablesValidator validator = new JobVariablesValidator();
    private final Supplier<Map<String, String>> inheritedEnvironment;
    private final String workerName;

    /** A run's identity and its rendered configuration, ready for {@code launch}. */
    record PreparedRun(FlowRunInfo info, ObjectNode configuration) {
        @Override
        public ObjectNode configuration() {
            return configuration.deepCopy();
        }
    }

    /** A configuration that could not be built: the message says why, for the user. */
    static final class SubmissionException extends Exception {
        SubmissionException(String message) {
            super(message);
        }
    }

    /**
     * @param inheritedEnvironment the Prefect settings forwarded to flow runs, read at each build (the worker id
     *                             may arrive later, on Cloud)
     */
    ConfigurationBuilder(PrefectObjects prefect, Map<String, String> environment,
            Supplier<Map<String, String>> inheritedEnvironment, String workerName) {
        this.prefect = prefect;
        this.renderer = new JobTemplateRenderer(environment);
        this.inheritedEnvironment = inheritedEnvironment;
        this.workerName = workerName;
    }

    PreparedRun build(FlowRun run, Deployment deployment, WorkPool pool)
            throws SubmissionException, ApiException, InterruptedException {
        return build(run, deployment, pool, PollReads.direct(prefect));
    }

    /** @param reads where the run's flow is read (shared by the runs of one poll) */
    PreparedRun build(FlowRun run, Deployment deployment, WorkPool pool, PollReads reads)
            throws SubmissionException, ApiException, InterruptedException {
        JsonNode template = pool.baseJobTemplate();
        try {
            validator.checkTemplate(template);
        } catch (TemplateException e) {
            throw new SubmissionException("work pool '" + pool.name() + "' has a malformed base job template: "
                    + e.getMessage());
        }
        ObjectNode variables = JobVariables.merge(deployment == null ? null : deployment.jobVariables(), run.jobVariables());
        List<String> violations = validator.validate(template, variables);
        if (!violations.isEmpty()) {
            throw new SubmissionException("job variables do not match the schema of work pool '" + pool.name() + "': "
                    + String.join("; ", violations));
        }
        ObjectNode configuration;
        try {
            configuration = renderer.render(template, variables, new ApiPlaceholderResolver(prefect.client()));
        } catch (TemplateException e) {
            throw new SubmissionException(e.getMessage());
        }
        Flow flow = run.flowId() == null ? null : reads.flow(run.flowId()).orElse(null);
        FlowRunInfo info = info(run, deployment, flow, pool);
        JobPreparation.prepare(configuration, info, inheritedEnvironment.get(), deployment, flow, run, Worker.PREFECT_VERSION);
        return new PreparedRun(info, configuration);
    }

    /**
     * The best configuration that can be had for a run launched earlier, and what was missing: without the
     * deployment when it was deleted, else an empty one when even that cannot be rendered.
     */
    record BestEffort(PreparedRun prepared, String problem) {
    }

    BestEffort rebuild(FlowRun run, WorkPool pool) throws InterruptedException {
        String problem = null;
        Deployment deployment = null;
        try {
            if (run.deploymentId() != null) {
                Optional<Deployment> found = prefect.deployment(run.deploymentId());
                if (found.isEmpty()) {
                    problem = "deployment " + run.deploymentId() + " no longer exists, so its job variables are missing";
                }
                deployment = found.orElse(null);
            }
            return new BestEffort(build(run, deployment, pool), problem);
        } catch (SubmissionException | ApiException e) {
            String why = (problem == null ? "" : problem + "; ") + e.getMessage();
            FlowRunInfo info = info(run, deployment, null, pool);
            return new BestEffort(new PreparedRun(info, JsonNodeFactory.instance.objectNode()), why);
        }
    }

    /**
     * Where a plugin should look when it lists the pool's infrastructure: the pool's template rendered with its
     * defaults alone (no deployment, no run), blocks resolved. Empty when the template cannot be rendered so.
     */
    ObjectNode poolDefaults(WorkPool pool) throws InterruptedException {
        JsonNode template = pool.baseJobTemplate();
        try {
            // no schema check here: it runs at every reconcile, and compiling the schema (and loading the
            // validator's ~400 classes) would be paid by every idle worker for nothing a run needs
            return renderer.render(template, JsonNodeFactory.instance.objectNode(),
                    new ApiPlaceholderResolver(prefect.client()));
        } catch (TemplateException | RuntimeException e) {
            return JsonNodeFactory.instance.objectNode();
        }
    }

    private FlowRunInfo info(FlowRun run, Deployment deployment, Flow flow, WorkPool pool) {
        Set<String> tags = new TreeSet<>();
        if (deployment != null) {
            tags.addAll(deployment.tags());
        }
        if (flow != null) {
            tags.addAll(flow.tags());
        }
        tags.addAll(run.tags());
        return new FlowRunInfo(run.id(), run.name(), run.flowId(), flow == null ? null : flow.name(),
                deployment == null ? null : deployment.id(), deployment == null ? null : deployment.name(),
                pool.name(), pool.id(), workerName, List.copyOf(tags));
    }
}
