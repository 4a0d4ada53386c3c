package io.pworker.aci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.aci.AciJobConfiguration.ManagedIdentityRegistry;
import io.pworker.aci.AciJobConfiguration.PasswordRegistry;
import io.pworker.spi.LaunchException;
import java.util.Map;
import java.util.Set;

/**
 * prefect-azure's preparation of the pool's ARM template (worker-spec §7.6): the first resource is the container
 * group and its first container runs the flow; the worker fills in what only it knows.
 */
final class ArmTemplate {

    /** Sent as {@code secureValue}, which ACI neither shows in the portal nor returns from its API. */
    static final Set<String> SECRET_VARIABLES = Set.of("PREFECT_API_KEY", "PREFECT_API_AUTH_STRING");

    private ArmTemplate() {
    }

    /**
     * A prepared copy of the configuration's template; the configuration is left as it is. {@code tags} are added
     * to the group's own (which win, as a template's labels do elsewhere).
     */
    static ObjectNode prepare(AciJobConfiguration c, Map<String, String> tags) throws LaunchException {
        ObjectNode template = c.armTemplate().deepCopy();
        ObjectNode group = object(template.path("resources").path(0), "resources[0]");
        ObjectNode groupProperties = object(group.path("properties"), "resources[0].properties");
        ObjectNode container = object(groupProperties.path("containers").path(0).path("properties"),
                "resources[0].properties.containers[0].properties");

        tag(group, tags);

        ArrayNode env = container.putArray("environmentVariables");
        c.env().forEach((name, value) -> env.addObject().put("name", name)
                .put(SECRET_VARIABLES.contains(name) ? "secureValue" : "value", value));

        ArrayNode command = container.putArray("command");
        if (c.entrypoint() != null && !c.entrypoint().isBlank()) {
            // ACI replaces the image's entrypoint with the command; Prefect images need theirs to install
            // EXTRA_PIP_PACKAGES, so it goes first
            command.add(c.entrypoint());
        }
        c.command().forEach(command::add);
        container.put("image", c.image());

        if (c.gpuCount() != null && c.gpuCount() > 0) {
            ObjectNode gpu = container.with("resources").with("requests").putObject("gpu").put("count", c.gpuCount());
            if (c.gpuSku() != null) {
                gpu.put("sku", c.gpuSku());
            }
        }
        switch (c.imageRegistry()) {
            case PasswordRegistry r -> groupProperties.putArray("imageRegistryCredentials").addObject()
                    .put("server", r.server()).put("username", r.username()).put("password", r.password());
            case ManagedIdentityRegistry r -> groupProperties.putArray("imageRegistryCredentials").addObject()
                    .put("server", r.server()).put("identity", r.identity());
            case null -> {
            }
        }
        if (!c.identities().isEmpty()) {
            ObjectNode identity = group.putObject("identity").put("type", "UserAssigned");
            ObjectNode assigned = identity.putObject("userAssignedIdentities");
            c.identities().forEach(assigned::putObject);
        }
        if (!c.subnetIds().isEmpty()) {
            ArrayNode subnets = groupProperties.putArray("subnetIds");
            c.subnetIds().forEach(id -> subnets.addObject().put("id", id));
        }
        if (!c.dnsServers().isEmpty()) {
            ArrayNode servers = groupProperties.putObject("dnsConfig").putArray("nameServers");
            c.dnsServers().forEach(servers::add);
        }
        return template;
    }

    /**
     * A template whose group tags are an ARM expression ("[parameters('tags')]") cannot take ours: the group
     * then goes untagged, and only the orphan search misses it.
     */
    private static void tag(ObjectNode group, Map<String, String> tags) {
        JsonNode existing = group.get("tags");
        if (existing != null && !existing.isNull() && !existing.isObject()) {
            return;
        }
        ObjectNode merged = JsonNodeFactory.instance.objectNode();
        tags.forEach(merged::put);
        if (existing instanceof ObjectNode own) {
            merged.setAll(own);
        }
        group.set("tags", merged);
    }

    /** The deployment's parameters: the group gets the worker's name for it. */
    static ObjectNode parameters(String groupName) {
        ObjectNode p = JsonNodeFactory.instance.objectNode();
        p.putObject("container_group_name").put("value", groupName);
        return p;
    }

    private static ObjectNode object(JsonNode node, String path) throws LaunchException {
        if (!(node instanceof ObjectNode o)) {
            throw new LaunchException("invalid job configuration 'arm_template': " + path + " must be an object (the "
                    + "first resource is the container group, and its first container runs the flow)");
        }
        return o;
    }
}
