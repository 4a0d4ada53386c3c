package io.pworker.aci;

import io.pworker.testkit.DockerTestEngine;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A fresh {@link FakeAzure} per test. As an extension it closes after every {@code @AfterEach} method, including
 * the contract kit's clean-up, which still needs the fake to delete what the test left; then it fails the test
 * when a request broke the SDK models' contract.
 */
final class FakeAzureExtension implements BeforeEachCallback, AfterEachCallback {

    private FakeAzure azure;

    FakeAzure get() {
        return azure;
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        azure = new FakeAzure(DockerTestEngine.get());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        if (azure != null) {
            azure.close();
            if (!azure.violations.isEmpty()) {
                throw new AssertionError("requests the real Resource Manager would refuse: " + azure.violations);
            }
        }
    }
}
