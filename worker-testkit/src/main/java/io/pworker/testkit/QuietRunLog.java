package io.pworker.testkit;

import io.pworker.spi.RunLog;

/** A run log that drops every message, for launcher tests that do not look at what a run logs. */
public final class QuietRunLog implements RunLog {

    public static final RunLog INSTANCE = new QuietRunLog();

    private QuietRunLog() {
    }

    @Override
    public void info(String message) {
    }

    @Override
    public void warn(String message) {
    }

    @Override
    public void error(String message, Throwable cause) {
    }
}
