package io.pworker.cli;

import io.pworker.logging.LogFormat;
import io.pworker.logging.SecretMask;
import io.pworker.settings.Settings;
import io.pworker.settings.SettingsException;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code PWORKER_*} settings for running pworker as a service: log format and metrics. Checked when a command
 * starts, so that a mistyped value is one line and exit 2 rather than a silent default.
 *
 * @param metrics serve {@code /metrics} ({@code PWORKER_METRICS=true} or {@code --with-metrics})
 */
record Operations(LogFormat logFormat, boolean metrics) {

    static final String METRICS = "PWORKER_METRICS";

    static Operations from(Map<String, String> environment, boolean metricsFlag) throws SettingsException {
        String format = environment.get(LogFormat.VARIABLE);
        LogFormat logFormat = LogFormat.parse(format).orElseThrow(() -> new SettingsException(
                LogFormat.VARIABLE + " must be 'text' or 'json', got '" + format + "'"));
        String metrics = environment.get(METRICS);
        boolean on = metricsFlag;
        if (metrics != null && !metrics.isBlank()) {
            on |= switch (metrics.strip().toLowerCase(Locale.ROOT)) {
                case "true", "1", "yes", "on" -> true;
                case "false", "0", "no", "off" -> false;
                default -> throw new SettingsException(METRICS + " must be true or false, got '" + metrics + "'");
            };
        }
        return new Operations(logFormat, on);
    }

    /** Masks the credentials from the active profile too, once the settings have been read. */
    static void maskCredentials(Settings settings) {
        SecretMask.set(settings.apiKey(), settings.apiAuthString());
    }
}
