package io.pworker.api;

/**
 * The Prefect server runs another major version than the one pworker follows. Retrying cannot help, so callers
 * stop using the feature that needed the server (event sockets) and say so once.
 */
public final class IncompatibleServerException extends Exception {

    private final ServerVersion server;

    public IncompatibleServerException(String message, ServerVersion server) {
        super(message);
        this.server = server;
    }

    public ServerVersion server() {
        return server;
    }
}
