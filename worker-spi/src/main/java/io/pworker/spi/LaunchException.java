package io.pworker.spi;

/** Nothing was started for the flow run; the core reports it Crashed with this message. */
public class LaunchException extends InfrastructureException {

    public LaunchException(String message) {
        super(message);
    }

    public LaunchException(String message, Throwable cause) {
        super(message, cause);
    }
}
