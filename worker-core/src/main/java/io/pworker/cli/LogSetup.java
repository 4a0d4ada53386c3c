package io.pworker.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.Locale;

/**
 * Logback's configuration in code: one console appender on stderr at {@code PREFECT_LOGGING_LEVEL} (default INFO).
 * Reading an XML file would cost a start a few hundred classes and tens of milliseconds. A file named by
 * {@code -Dlogback.configurationFile} still takes over.
 */
public final class LogSetup extends ContextAwareBase implements Configurator {

    static final String PATTERN = "%d{HH:mm:ss.SSS} | %-5level | %logger{0} - %msg%n";

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (System.getProperty("logback.configurationFile") != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(PATTERN);
        encoder.start();
        ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
        console.setContext(context);
        console.setName("console");
        console.setTarget("System.err");
        console.setEncoder(encoder);
        console.start();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(level(System.getenv("PREFECT_LOGGING_LEVEL")));
        root.addAppender(console);
        // libraries that are chatty at INFO/DEBUG about their own plumbing
        for (String quiet : new String[] {"jdk.internal.httpclient", "org.apache.hc", "com.github.dockerjava"}) {
            context.getLogger(quiet).setLevel(Level.WARN);
        }
        // SDKs that write credentials at DEBUG: the AWS SigV4 signer logs each canonical request with its
        // x-amz-security-token. Capped here, so PREFECT_LOGGING_LEVEL=DEBUG never puts a secret in the log.
        for (String secretive : SECRETIVE_LOGGERS) {
            context.getLogger(secretive).setLevel(Level.INFO);
        }
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    /**
     * Sets the worker's log level from the loaded settings, so that {@code PREFECT_LOGGING_LEVEL} from the active
     * profile counts as much as the environment variable read at start-up. A Logback file of the user's own
     * ({@code -Dlogback.configurationFile}) keeps its levels.
     */
    /** Libraries whose DEBUG output carries credentials; never below INFO. */
    static final String[] SECRETIVE_LOGGERS = {"software.amazon.awssdk"};

    static void applyLevel(String prefectLevel) {
        if (System.getProperty("logback.configurationFile") != null
                || !(org.slf4j.LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return;
        }
        context.getLogger(Logger.ROOT_LOGGER_NAME).setLevel(level(prefectLevel));
    }

    /**
     * Prefect's level names; WARNING and CRITICAL are Python's spellings. Anything else maps to INFO here: this
     * runs before the settings are checked, and the check refuses such a value with a message.
     */
    static Level level(String name) {
        if (name == null || name.isBlank()) {
            return Level.INFO;
        }
        return switch (name.strip().toUpperCase(Locale.ROOT)) {
            case "DEBUG" -> Level.DEBUG;
            case "WARNING" -> Level.WARN;
            case "ERROR", "CRITICAL" -> Level.ERROR;
            default -> Level.INFO;
        };
    }
}
