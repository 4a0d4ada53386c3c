package io.pworker.aci;

import com.azure.resourcemanager.containerinstance.fluent.models.ContainerGroupInner;
import com.azure.resourcemanager.containerinstance.models.Container;
import com.azure.resourcemanager.containerinstance.models.ContainerState;
import com.azure.resourcemanager.containerinstance.models.Event;
import io.pworker.spi.ExitStatus;
import io.pworker.spi.Phase;
import java.util.List;

/** What a container group's flow-run container is doing, read from one GET of the group. */
final class GroupPhase {

    private GroupPhase() {
    }

    /** The phase of {@code group}; null (never fetched) or deleted groups are {@link #deleted}. */
    static Phase of(ContainerGroupInner group, String name) {
        List<Container> containers = group.containers();
        if (containers == null || containers.isEmpty()) {
            return new Phase.Gone("The container group " + name + " has no container.");
        }
        Container container = containers.getFirst();
        ContainerState state = container.instanceView() == null ? null : container.instanceView().currentState();
        if ("Failed".equalsIgnoreCase(group.provisioningState())) {
            return new Phase.Gone("The container group " + name + " failed to provision" + lastEvent(container) + ".");
        }
        if (state == null || state.state() == null) {
            if (group.instanceView() != null && "Stopped".equalsIgnoreCase(group.instanceView().state())) {
                return new Phase.Gone("The container group " + name + " was stopped before its container ran.");
            }
            return new Phase.Pending("container group " + name + " is " + describe(group.provisioningState()));
        }
        return switch (state.state()) {
            case "Terminated" -> state.exitCode() != null ? Phase.Exited.of(state.exitCode())
                    : new Phase.Exited(new ExitStatus(-1, "The container of group " + name + " terminated without an exit code ("
                            + state.detailStatus() + ")."));
            case "Running" -> new Phase.Running();
            default -> new Phase.Pending("container " + container.name() + " is " + state.state()
                    + (state.detailStatus() == null || state.detailStatus().isBlank() ? "" : ": " + state.detailStatus()));
        };
    }

    static Phase.Gone deleted(String name) {
        return new Phase.Gone("The container group " + name + " was deleted before the flow run finished (outside the "
                + "worker, or by a cancellation).");
    }

    private static String describe(String provisioningState) {
        return provisioningState == null ? "being created" : provisioningState.toLowerCase(java.util.Locale.ROOT);
    }

    private static String lastEvent(Container container) {
        if (container.instanceView() == null || container.instanceView().events() == null
                || container.instanceView().events().isEmpty()) {
            return "";
        }
        Event e = container.instanceView().events().getLast();
        return ": " + e.name() + (e.message() == null ? "" : " " + e.message());
    }
}
