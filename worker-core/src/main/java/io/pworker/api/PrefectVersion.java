package io.pworker.api;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Prefect release number, reduced to what the worker compares: major, minor and patch. Suffixes such as
 * {@code .dev3}, {@code rc1} or {@code +g1234abc} are ignored, so a development build of 3.7.0 counts as 3.7.0.
 */
public record PrefectVersion(int major, int minor, int patch) implements Comparable<PrefectVersion> {

    /** The first release whose {@code /events/in} wants the auth message (checked against 3.4.25 and 3.8.3). */
    public static final PrefectVersion EVENTS_IN_HANDSHAKE = new PrefectVersion(3, 7, 0);

    /**
     * Releases from here on accept a second PENDING state with another name ("Submitting") after the claim; 3.4.25
     * aborts it (its worker never sends it), 3.8.3 records it. Prefect added the named sub-states in early 2026,
     * after the 3.5 line; a 3.6 server from before that merely aborts the proposal, as 3.4 does.
     */
    public static final PrefectVersion NAMED_PENDING_STATES = new PrefectVersion(3, 6, 0);

    private static final Pattern NUMBERS = Pattern.compile("^v?(\\d{1,6})\\.(\\d{1,6})(?:\\.(\\d{1,6}))?");

    /** Parses {@code "3.4.25"}, {@code "3.8.3.dev1"}, {@code "3.5"}; empty for anything else. */
    public static Optional<PrefectVersion> parse(String text) {
        if (text == null) {
            return Optional.empty();
        }
        Matcher m = NUMBERS.matcher(text.strip());
        if (!m.find()) {
            return Optional.empty();
        }
        return Optional.of(new PrefectVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                m.group(3) == null ? 0 : Integer.parseInt(m.group(3))));
    }

    /** Like {@link #parse} for versions this code base spells itself; a typo there is a bug, not input. */
    public static PrefectVersion of(String text) {
        return parse(text).orElseThrow(() -> new IllegalArgumentException("not a Prefect version: " + text));
    }

    public boolean sameMinor(PrefectVersion other) {
        return major == other.major && minor == other.minor;
    }

    @Override
    public int compareTo(PrefectVersion o) {
        int c = Integer.compare(major, o.major);
        if (c == 0) {
            c = Integer.compare(minor, o.minor);
        }
        return c != 0 ? c : Integer.compare(patch, o.patch);
    }

    public boolean atLeast(PrefectVersion other) {
        return compareTo(other) >= 0;
    }

    @Override
    public String toString() {
        return major + "." + minor + "." + patch;
    }
}
