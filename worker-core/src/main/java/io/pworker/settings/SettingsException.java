package io.pworker.settings;

/** A setting is missing or has a value that cannot be used; the message names the setting. */
public class SettingsException extends Exception {

    public SettingsException(String message) {
        super(message);
    }

    public SettingsException(String message, Throwable cause) {
        super(message, cause);
    }
}
