package io.pworker.logging;

import java.util.Locale;

/** {@code PWORKER_LOG_FORMAT}: {@code text} (the default, for people) or {@code json} (for log pipelines). */
public enum LogFormat {
    TEXT, JSON;

    public static final String VARIABLE = "PWORKER_LOG_FORMAT";

    /** The format named by {@code value} (blank: text); empty for a name that is neither. */
    public static java.util.Optional<LogFormat> parse(String value) {
        if (value == null || value.isBlank()) {
            return java.util.Optional.of(TEXT);
        }
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "text" -> java.util.Optional.of(TEXT);
            case "json" -> java.util.Optional.of(JSON);
            default -> java.util.Optional.empty();
        };
    }
}
