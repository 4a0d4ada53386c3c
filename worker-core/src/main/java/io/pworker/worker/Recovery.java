package io.pworker.worker;

import io.pworker.api.ApiException;
import io.pworker.api.Deployment;
import io.pworker.api.FlowRun;
import io.pworker.api.WorkPool;
import io.pworker.spi.Discovered;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.Phase;
import io.pworker.spi.RunHandle;
import io.pworker.state.RunRecord;
import java.util.Optional;

/**
 * What a worker finds for a run that a worker process before it left in the state directory, and what it should
 * do about it. It reads the run and looks at the infrastructure; it changes nothing: the run's supervisor carries
 * out the answer.
 */
final class Recovery {

    /** What to do with a recovered run. */
    sealed interface Resume {
    }

    /** The backend or the plugin cannot be asked now; keep the record and look again at the next reconcile. */
    record Later(String why) implements Resume {
    }

    /** Nothing to report: release the infrastructure, if any, and delete the record. */
    record Forget(String why, RunHandle handle, ConfigurationBuilder.PreparedRun prepared) implements Resume {
    }

    /** Claimed, nothing launched: build and launch it as if just claimed. */
    record Submit(FlowRun run, Deployment deployment, WorkPool pool) implements Resume {
    }

    /** No infrastructure to look at; report the verdict. */
    record Settle(Verdict verdict) implements Resume {
    }

    /** The infrastructure ended while no worker watched it. */
    record Ended(FlowRun run, RunHandle handle, ConfigurationBuilder.PreparedRun prepared, Phase end) implements Resume {
    }

    /** Still there: watch it again, and stop it first when the run is being cancelled. */
    record Watch(FlowRun run, RunHandle handle, ConfigurationBuilder.PreparedRun prepared, boolean cancelling)
            implements Resume {
    }

    private final RunServices services;
    private final RunLogger rlog;

    Recovery(RunServices services, RunLogger rlog) {
        this.services = services;
        this.rlog = rlog;
    }

    Resume resume(RunRecord record, WorkPool pool)
            throws ApiException, InterruptedException, RunReporter.StoppedWaiting {
        String id = record.flowRunId();
        Optional<FlowRun> found = services.reporter().persist("read flow run " + id, () -> services.prefect().flowRun(id));
        if (found.isEmpty()) {
            return new Forget("the flow run no longer exists", record.stage() == RunRecord.Stage.LAUNCHED
                    ? record.handle() : null, null);
        }
        FlowRun run = found.get();
        return switch (record.stage()) {
            case CLAIMED -> claimed(run, pool);
            case LAUNCHING -> launching(run, pool);
            case LAUNCHED -> launched(run, record.handle(), pool);
        };
    }

    private Resume claimed(FlowRun run, WorkPool pool) throws ApiException, InterruptedException, RunReporter.StoppedWaiting {
        if (run.is("CANCELLING")) {
            return new Settle(Verdict.cancelledBeforeLaunch());
        }
        if (!run.is("PENDING") || run.infrastructurePid() != null) {
            return new Forget("the flow run is " + run.stateType() + " and nothing was launched for it", null, null);
        }
        Deployment deployment = null;
        if (run.deploymentId() != null) {
            deployment = services.reporter().persist("read deployment " + run.deploymentId(),
                    () -> services.prefect().deployment(run.deploymentId())).orElse(null);
            if (deployment == null) {
                return new Settle(new Verdict.Cancel("Deployment " + run.deploymentId()
                        + " no longer exists, cancelled run."));
            }
        }
        rlog.info("Worker '" + services.workerName() + "' resumes submitting flow run '" + run.id()
                + "', which a worker claimed before it stopped");
        return new Submit(run, deployment, pool);
    }

    /** A worker died during {@code launch}: the infrastructure exists only if the plugin can find it by its labels. */
    private Resume launching(FlowRun run, WorkPool pool) throws InterruptedException {
        if (run.isFinal()) {
            return new Forget("the flow run is already " + run.stateType(), null, null);
        }
        Optional<Discovered> found;
        try {
            found = services.launcher().discover(new InfrastructureScope(pool.id(), pool.name(), null,
                    services.configurations().poolDefaults(pool))).stream()
                    .filter(d -> run.id().equals(d.flowRunId())).findFirst();
        } catch (InfrastructureException e) {
            return new Later("cannot list the infrastructure: " + e.getMessage());
        }
        if (found.isPresent()) {
            rlog.info("Found the infrastructure " + found.get().handle().infrastructurePid()
                    + " that a worker launched for this flow run before it stopped");
            return launched(run, found.get().handle(), pool);
        }
        return new Settle(run.is("CANCELLING") ? Verdict.cancelledBeforeLaunch() : Verdict.launchUnknown(services.workerName()));
    }

    private Resume launched(FlowRun run, RunHandle handle, WorkPool pool) throws InterruptedException {
        ConfigurationBuilder.BestEffort config = services.configurations().rebuild(run, pool);
        if (config.problem() != null) {
            rlog.warn("Could not render the flow run's job configuration again (" + config.problem() + "); the '"
                    + services.type() + "' plugin gets what could be rendered");
        }
        ConfigurationBuilder.PreparedRun prepared = config.prepared();
        if (run.isFinal()) {
            return new Forget("the flow run is already " + run.stateType(), handle, prepared);
        }
        if (run.is("SCHEDULED") || (run.infrastructurePid() != null
                && !run.infrastructurePid().equals(handle.infrastructurePid()))) {
            return new Forget("the record is from an earlier attempt of the flow run", handle, prepared);
        }
        if (run.is("CANCELLING")) {
            return new Watch(run, handle, prepared, true);
        }
        Phase phase;
        try {
            phase = services.launcher().recover(handle, prepared.configuration());
        } catch (InfrastructureException e) {
            return new Later("cannot look at its infrastructure " + handle.infrastructurePid() + ": " + e.getMessage());
        }
        return phase.terminal() ? new Ended(run, handle, prepared, phase) : new Watch(run, handle, prepared, false);
    }
}
