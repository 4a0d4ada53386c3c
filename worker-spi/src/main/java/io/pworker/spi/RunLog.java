package io.pworker.spi;

/**
 * Messages about one flow run. They are written to the worker's log and shipped to the run's logs in Prefect,
 * so never pass secrets (registry passwords, tokens, env values).
 */
public interface RunLog {

    void info(String message);

    void warn(String message);

    void error(String message, Throwable cause);
}
