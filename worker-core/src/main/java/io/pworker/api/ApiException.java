package io.pworker.api;

/**
 * A Prefect API call failed. {@code status} is the HTTP status, or 0 when no response arrived (connection
 * refused, timeout, TLS failure).
 */
public class ApiException extends Exception {

    private final int status;
    private final String method;
    private final String path;

    public ApiException(String method, String path, int status, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
        this.method = method;
        this.path = path;
    }

    public int status() {
        return status;
    }

    public String method() {
        return method;
    }

    public String path() {
        return path;
    }

    /** Worth trying again later: no answer at all, or a server-side error. */
    public boolean isTransient() {
        return status == 0 || status >= 500 || status == 408 || status == 429;
    }

    public boolean isNotFound() {
        return status == 404;
    }
}
