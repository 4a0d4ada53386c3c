package io.pworker.ecs;

import io.pworker.spi.LaunchException;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.services.ecs.model.Failure;

/** AWS's answers as messages for the run's Crashed state: what failed and, for the usual causes, what to fix. */
final class EcsErrors {

    private EcsErrors() {
    }

    /** RunTask's per-task failures, e.g. {@code RESOURCE:MEMORY for arn:…}. */
    static String failures(List<Failure> failures) {
        List<String> out = new ArrayList<>();
        for (Failure f : failures) {
            out.add(f.reason() + (f.detail() == null ? "" : " (" + f.detail() + ")")
                    + (f.arn() == null ? "" : " for " + f.arn()));
        }
        return String.join("; ", out);
    }

    /** An AWS error as a sentence saying what to fix, for the errors Prefect's users meet most. */
    static LaunchException friendly(String action, AwsServiceException e) {
        String code = e.awsErrorDetails() == null ? "" : String.valueOf(e.awsErrorDetails().errorCode());
        String message = e.awsErrorDetails() != null && e.awsErrorDetails().errorMessage() != null
                ? e.awsErrorDetails().errorMessage() : e.getMessage();
        String lower = message.toLowerCase();
        String hint;
        if (code.contains("AccessDenied") || code.contains("Unauthorized") || code.contains("UnrecognizedClient")
                || code.contains("InvalidClientTokenId") || code.contains("ExpiredToken")
                || code.contains("SignatureDoesNotMatch")) {
            hint = "check the AWS credentials and that their IAM policy allows it (see the README's IAM permissions)";
        } else if (lower.contains("no container instances")) {
            hint = "the cluster has no container instances for launch type EC2; register instances or use FARGATE";
        } else if (lower.contains("inactive")) {
            hint = "the task definition is INACTIVE (deregistered); point task_definition_arn at an active revision";
        } else if (lower.contains("capacity provider")) {
            hint = "check capacity_provider_strategy and the capacity providers attached to the cluster";
        } else if (lower.contains("subnet") || lower.contains("security group") || lower.contains("network")) {
            hint = "check network_configuration and vpc_id";
        } else if (lower.contains("logs")) {
            hint = "CloudWatch logs need an execution role allowed to create log groups and streams";
        } else {
            hint = null;
        }
        return new LaunchException(action + " failed (" + code + "): " + message + (hint == null ? "" : "; " + hint), e);
    }
}
