package io.pworker.metrics;

import java.util.regex.Pattern;

/**
 * Turns a Prefect API path into its route, so that metrics have one series per endpoint rather than one per flow
 * run: ids become {@code {id}}, the names in name-addressed paths become {@code {name}}, and the query is dropped.
 */
final class ApiRoutes {

    private static final Pattern UUID = Pattern.compile(
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    /** Segments after which the next one is a name the user chose. */
    private static final java.util.Set<String> NAMED = java.util.Set.of("work_pools", "queues", "name", "slug");

    private ApiRoutes() {
    }

    static String route(String path) {
        int q = path.indexOf('?');
        String bare = q < 0 ? path : path.substring(0, q);
        String[] parts = bare.split("/", -1);
        StringBuilder out = new StringBuilder();
        for (int i = 1; i < parts.length; i++) {
            String previous = parts[i - 1];
            String part = parts[i];
            String shown;
            if (UUID.matcher(part).matches()) {
                shown = "{id}";
            } else if (NAMED.contains(previous) || (i >= 3 && parts[i - 2].equals("name") && parts[1].equals("deployments"))) {
                // user-chosen names (pools, queues, flows, deployments, variables, block slugs): not for a label
                shown = "{name}";
            } else if (part.length() > 40) {
                shown = "{id}";
            } else {
                shown = part;
            }
            out.append('/').append(shown);
        }
        return out.length() == 0 ? "/" : out.toString();
    }
}
