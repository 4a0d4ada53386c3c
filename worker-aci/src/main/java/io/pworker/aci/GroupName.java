package io.pworker.aci;

import io.pworker.spi.RunHandle;

/**
 * Names a flow run's container group and reads it back from {@code infrastructure_pid}
 * ({@code "<flow run id>:<group name>"}, as prefect-azure writes it).
 */
final class GroupName {

    /** ARM deployment names have at most 64 characters, of which "prefect-" and the run id take 8 + 36 + 1. */
    private static final int MAX_LENGTH = 55;

    private GroupName() {
    }

    /**
     * {@code <flow name slug>-<flow run id>}: the slug keeps runs of letters, digits and dashes, lower case, at most
     * 55 − 36 = 19 characters, like python-slugify with prefect-azure's arguments.
     */
    static String of(String flowName, String flowRunId) {
        int room = MAX_LENGTH - flowRunId.length();
        // accents go the way unidecode takes them: "café" becomes "cafe"
        String plain = flowName == null ? "" : java.text.Normalizer.normalize(flowName, java.text.Normalizer.Form.NFKD)
                .replaceAll("\\p{M}+", "");
        String slug = plain.toLowerCase(java.util.Locale.ROOT)
                .replaceAll("[^a-z0-9-]+", "-").replaceAll("-{2,}", "-").replaceAll("^-|-$", "");
        if (slug.length() > room) {
            slug = slug.substring(0, Math.max(0, room)).replaceAll("-$", "");
        }
        return slug + "-" + flowRunId;
    }

    static String deploymentName(String groupName) {
        return "prefect-" + groupName;
    }

    /** The group name in a handle; a pid that is not {@code "<run id>:<group>"} is not one of ours. */
    static String fromHandle(RunHandle handle) {
        String pid = handle.infrastructurePid();
        String[] parts = pid.split(":");
        if (parts.length != 2 || parts[1].isBlank()) {
            throw new IllegalArgumentException("infrastructure_pid '" + pid + "' is not '<flow run id>:<container group name>'");
        }
        return parts[1];
    }
}
