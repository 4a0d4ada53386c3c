package io.pworker.worker;

/** The word a reported {@link Verdict} counts as in {@code pworker_runs_finished_total{outcome=…}}. */
final class RunMetrics {

    private RunMetrics() {
    }

    static String outcome(Verdict verdict) {
        return switch (verdict) {
            // the infrastructure exited 0: the engine reports the run's own final state, usually Completed
            case Verdict.LeaveToEngine ignored -> "completed";
            case Verdict.Crash ignored -> "crashed";
            case Verdict.Cancel ignored -> "cancelled";
            case Verdict.Superseded ignored -> "superseded";
        };
    }
}
