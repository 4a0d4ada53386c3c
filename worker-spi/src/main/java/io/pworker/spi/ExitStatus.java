package io.pworker.spi;

/**
 * How a flow run's infrastructure ended.
 *
 * @param code   the exit code of the flow-run process or container; negative when it was killed by signal N
 *               ({@code -15}), as Prefect's process worker reports it
 * @param reason why it ended when the code alone does not say (e.g. "the container was removed from
 *               outside the worker"), or null
 */
public record ExitStatus(int code, String reason) {

    public static ExitStatus of(int code) {
        return new ExitStatus(code, null);
    }

    public boolean successful() {
        return code == 0;
    }
}
