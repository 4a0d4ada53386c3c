package io.pworker.cloudrun;

import java.text.Normalizer;
import java.util.List;
import java.util.Locale;

/**
 * Cloud Run job names: Prefect's {@code <slug of the name, at most 55 characters>-<7 hex digits>}. Prefect takes
 * the hex digits from a random UUID; they come from the flow-run id here, so that a launch repeated for the same
 * run (after a crash or a retry) finds the job it created instead of creating another.
 */
final class JobNames {

    static final int MAX_BASE = 55;
    private static final int SUFFIX = 7;

    private JobNames() {
    }

    /** Lower-case ASCII letters, digits and dashes; starts with a letter, as Cloud Run requires. */
    static String base(String name) {
        String ascii = Normalizer.normalize(name == null ? "" : name, Normalizer.Form.NFKD).replaceAll("\\p{M}", "");
        String slug = ascii.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]+", "-").replaceAll("-{2,}", "-")
                .replaceAll("^[-0-9]+", "");
        slug = trimDashes(slug.length() > MAX_BASE ? slug.substring(0, MAX_BASE) : slug);
        return slug.isEmpty() ? "prefect" : slug;
    }

    /**
     * The names a run's job may have, first choice first: further slices of the run id when an earlier name is
     * taken by another run's job (same name, same first hex digits).
     */
    static List<String> candidates(String name, String flowRunId) {
        String hex = flowRunId.replaceAll("[^0-9a-fA-F]", "").toLowerCase(Locale.ROOT);
        if (hex.length() < 3 * SUFFIX) {
            // not a UUID (Prefect's ids always are): any stable digits will do
            hex = String.format("%032x", new java.math.BigInteger(1, flowRunId.getBytes(java.nio.charset.StandardCharsets.UTF_8))
                    .mod(java.math.BigInteger.TWO.pow(128)));
        }
        String base = base(name);
        return List.of(base + "-" + hex.substring(0, SUFFIX), base + "-" + hex.substring(SUFFIX, 2 * SUFFIX),
                base + "-" + hex.substring(2 * SUFFIX, 3 * SUFFIX));
    }

    private static String trimDashes(String s) {
        return s.replaceAll("^-+", "").replaceAll("-+$", "");
    }
}
