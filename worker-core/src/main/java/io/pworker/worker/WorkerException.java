package io.pworker.worker;

/** The worker cannot start or go on; the message is the reason shown to the user. */
public class WorkerException extends Exception {

    public WorkerException(String message) {
        super(message);
    }

    public WorkerException(String message, Throwable cause) {
        super(message, cause);
    }
}
