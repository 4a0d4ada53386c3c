package io.pworker.api;

import java.util.Optional;

/**
 * The Prefect server's version as {@code GET /admin/version} reported it, set against the Prefect release whose
 * worker contract pworker follows, and what the worker does about the difference (worker-spec §5.2).
 *
 * @param version  the server's version, or null when it is not known (check disabled, Prefect Cloud, no answer)
 * @param followed the release pworker follows ({@code Worker.PREFECT_VERSION})
 */
public record ServerVersion(PrefectVersion version, PrefectVersion followed) {

    /** How far the server is from the release pworker follows. */
    public enum Compatibility {
        /** Same major and minor release; patch releases do not change the worker contract. */
        SAME_MINOR,
        /** Same major, older minor: works, with a warning. */
        OLDER_MINOR,
        /** Same major, newer minor: works, with a warning. */
        NEWER_MINOR,
        /** Another major version: the event sockets are not used and the operator is told so. */
        OTHER_MAJOR,
        /** No version to compare. */
        UNKNOWN
    }

    public ServerVersion {
        if (followed == null) {
            throw new IllegalArgumentException("the followed Prefect version is required");
        }
    }

    public static ServerVersion unknown(PrefectVersion followed) {
        return new ServerVersion(null, followed);
    }

    public boolean known() {
        return version != null;
    }

    public Compatibility compatibility() {
        return compare(version, followed);
    }

    /** The comparison itself, for any pair; a null server version is {@link Compatibility#UNKNOWN}. */
    public static Compatibility compare(PrefectVersion server, PrefectVersion followed) {
        if (server == null) {
            return Compatibility.UNKNOWN;
        }
        if (server.major() != followed.major()) {
            return Compatibility.OTHER_MAJOR;
        }
        if (server.minor() == followed.minor()) {
            return Compatibility.SAME_MINOR;
        }
        return server.minor() < followed.minor() ? Compatibility.OLDER_MINOR : Compatibility.NEWER_MINOR;
    }

    /**
     * Whether {@code /events/in} wants the {@code prefect} subprotocol and the auth message: servers from 3.7.0 on
     * do (they close the socket on a first frame that is not the auth message); older ones parse every frame as an
     * event and drop the socket on an auth message. Empty when the version is not known.
     */
    public Optional<Boolean> eventsInHandshake() {
        return known() ? Optional.of(version.atLeast(PrefectVersion.EVENTS_IN_HANDSHAKE)) : Optional.empty();
    }

    /**
     * Whether proposing the "Submitting" state is worth a request: false for servers known to refuse it (older
     * than {@link PrefectVersion#NAMED_PENDING_STATES}), true otherwise (unknown versions and Prefect Cloud included).
     */
    public boolean takesNamedPendingStates() {
        return !known() || version.atLeast(PrefectVersion.NAMED_PENDING_STATES);
    }

    /** One line for the log about this server, naming both versions; empty when there is nothing to say. */
    public Optional<String> describe(String apiUrl) {
        return switch (compatibility()) {
            case OTHER_MAJOR -> Optional.of("The Prefect server at " + apiUrl + " runs Prefect " + version
                    + ", but pworker follows Prefect " + followed + " and does not work with Prefect "
                    + version.major() + ".x servers");
            case OLDER_MINOR -> Optional.of("The Prefect server at " + apiUrl + " runs Prefect " + version
                    + ", older than Prefect " + followed + " whose worker contract pworker follows; "
                    + "features added since " + version.major() + "." + version.minor() + " may be refused");
            case NEWER_MINOR -> Optional.of("The Prefect server at " + apiUrl + " runs Prefect " + version
                    + ", newer than Prefect " + followed + " whose worker contract pworker follows; "
                    + "pworker adapts its event sockets to it, other changes of that release are not used");
            case SAME_MINOR, UNKNOWN -> Optional.empty();
        };
    }
}
