package io.pworker.aci;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.JobConfigurationFields;
import io.pworker.spi.LaunchException;

/**
 * A resource group of a subscription, reached with one identity: where the orphan search lists container groups.
 *
 * @param key           the subscription and credentials
 * @param resourceGroup the resource group's name
 */
record GroupPlace(AciClients.Key key, String resourceGroup) {

    /**
     * The pool's place from its template's defaults, or null when they name no subscription or resource group
     * (prefect-azure's template has no defaults for either: a pool must set them for a restarted worker to look
     * there). Only these keys are read: the defaults need not make a launchable configuration.
     */
    static GroupPlace ofDefaults(ObjectNode c) throws LaunchException {
        String subscription = JobConfigurationFields.text(c, "subscription_id");
        String resourceGroup = JobConfigurationFields.text(c, "resource_group_name");
        if (subscription == null || subscription.isBlank() || resourceGroup == null || resourceGroup.isBlank()) {
            return null;
        }
        return new GroupPlace(new AciClients.Key(subscription.strip(),
                AciJobConfiguration.credentials(c.get("aci_credentials"))), resourceGroup.strip());
    }

    @Override
    public String toString() {
        return "resource group '" + resourceGroup + "'";
    }
}
