package io.pworker.ecs;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.RunHandle;
import io.pworker.testkit.LauncherContract;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import software.amazon.awssdk.services.ecs.EcsClient;

/**
 * The launcher contract against moto. moto accepts and tracks ECS tasks but never runs a container, so exit codes
 * and stop semantics come from {@link MotoWithLocalAgent}, the test wrapper that plays the ECS container agent
 * with local processes: every contract test here runs through it. What the launcher sends and reads is plain ECS
 * API; only the container's behaviour is stood in for.
 *
 * <p>ECS gives a stopped container its definition's {@code stopTimeout} before SIGKILL, whatever grace the kill
 * asks for, so the configuration sets {@code stopTimeout: 2} (as a user wanting quick kills would); moto also
 * needs a container-level memory.
 */
class EcsLauncherContractTest extends LauncherContract {

    private static final String CLUSTER = "pworker-contract";
    private static MotoWithLocalAgent aws;
    private static EcsClient admin;

    @BeforeAll
    static void startAws() throws Exception {
        aws = new MotoWithLocalAgent(MotoServer.get());
        aws.runCommandsLocally = true;
        admin = EcsTestSupport.ecs(aws);
        admin.createCluster(b -> b.clusterName(CLUSTER));
    }

    @AfterAll
    static void stopAws() {
        if (admin != null) {
            admin.close();
        }
        if (aws != null) {
            aws.close();
        }
    }

    @Override
    protected InfrastructureLauncher createLauncher() throws Exception {
        return EcsLauncher.create(EcsTestSupport.context(Map.of("PWORKER_ECS_POLL_SECONDS", "0.2")));
    }

    @Override
    protected ObjectNode configuration(FlowRunInfo run, String script) {
        ObjectNode c = EcsTestSupport.configuration(run, Map.of(
                "aws_credentials", EcsTestSupport.credentials(aws.endpoint.toString()),
                "cluster", CLUSTER,
                "image", "busybox:1",
                "command", "sh -c '" + script.replace("'", "'\\''") + "'"));
        ((ObjectNode) c.at("/task_definition/containerDefinitions/0")).put("memory", 128).put("stopTimeout", 2);
        return c;
    }

    @Override
    protected void removeFromOutside(RunHandle handle) throws Exception {
        EcsPid pid = EcsPid.of(handle);
        admin.stopTask(b -> b.cluster(pid.cluster()).task(pid.taskArn()).reason("Stopped from outside by the test"));
    }
}
