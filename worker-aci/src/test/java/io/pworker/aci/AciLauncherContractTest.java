package io.pworker.aci;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.RunHandle;
import io.pworker.testkit.LauncherContract;
import java.io.PrintStream;
import java.io.OutputStream;
import java.util.Map;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The launcher contract against the fake Resource Manager, whose container groups run on the real Docker engine. */
class AciLauncherContractTest extends LauncherContract {

    @RegisterExtension
    final FakeAzureExtension fake = new FakeAzureExtension();

    @Override
    protected InfrastructureLauncher createLauncher() throws Exception {
        return new AciPlugin(fake.get().cloud()).create(AciTestRuns.context(Map.of(), new PrintStream(OutputStream.nullOutputStream())));
    }

    @Override
    protected ObjectNode configuration(FlowRunInfo run, String script) {
        ObjectNode c = AciTestRuns.configuration(run, "{}");
        c.putArray("command").add("sh").add("-c").add(script);
        return c;
    }

    @Override
    protected void removeFromOutside(RunHandle handle) {
        fake.get().deleteFromOutside(GroupName.fromHandle(handle));
    }
}
