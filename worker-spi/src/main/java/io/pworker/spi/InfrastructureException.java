package io.pworker.spi;

/** A backend call failed; the message is shown to users, so say what failed and where. */
public class InfrastructureException extends Exception {

    public InfrastructureException(String message) {
        super(message);
    }

    public InfrastructureException(String message, Throwable cause) {
        super(message, cause);
    }
}
