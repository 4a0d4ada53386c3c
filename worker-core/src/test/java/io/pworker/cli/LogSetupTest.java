package io.pworker.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LogSetupTest {

    @ParameterizedTest(name = "PREFECT_LOGGING_LEVEL={0} logs at {1}")
    @CsvSource({"DEBUG, DEBUG", "info, INFO", "WARNING, WARN", "ERROR, ERROR", "CRITICAL, ERROR", "'', INFO", "nonsense, INFO"})
    void prefectLevelNamesMapToLogbackLevels(String name, String level) {
        assertThat(LogSetup.level(name)).isEqualTo(Level.toLevel(level));
    }

    @Test
    void logbackIsConfiguredInCodeWithOneStderrAppender() {
        // the service file makes Logback pick LogSetup before looking for XML
        LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
        var root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        assertThat(root.getAppender("console")).isNotNull();
        assertThat(context.getLogger("jdk.internal.httpclient").getLevel()).isEqualTo(Level.WARN);
        assertThat(new LogSetup().configure(new LoggerContext())).isEqualTo(Configurator.ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY);
    }

    @Test
    void theLoadedSettingsLevelIsAppliedToTheRootLogger() {
        var root = ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Level before = root.getLevel();
        try {
            // what StartCommand does with PREFECT_LOGGING_LEVEL from the profile once the settings are loaded
            LogSetup.applyLevel("ERROR");
            assertThat(root.getLevel()).isEqualTo(Level.ERROR);
            LogSetup.applyLevel("warning");
            assertThat(root.getLevel()).isEqualTo(Level.WARN);
            // the AWS signer writes session tokens at DEBUG: it stays at INFO whatever the worker's level
            LogSetup.applyLevel("DEBUG");
            assertThat(((LoggerContext) LoggerFactory.getILoggerFactory())
                    .getLogger("software.amazon.awssdk.http.auth.aws.internal.signer").getEffectiveLevel())
                    .isEqualTo(Level.INFO);
        } finally {
            root.setLevel(before);
        }
    }
}
