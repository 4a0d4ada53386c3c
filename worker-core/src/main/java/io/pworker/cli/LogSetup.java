package io.pworker.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.spi.ContextAwareBase;
import io.pworker.logging.JsonLogEncoder;
import io.pworker.logging.LogFormat;
import io.pworker.logging.MaskingEncoder;
import io.pworker.logging.SecretMask;
import java.util.Locale;

/**
 * Logback's configuration in code: one console appender on stderr at {@code PREFECT_LOGGING_LEVEL} (default INFO), in
 * the format {@code PWORKER_LOG_FORMAT} names (text or json), with the credentials masked ({@link SecretMask}).
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
        // the credentials from the environment are masked from the first line on; the profile's are added once read
        SecretMask.set(System.getenv("PREFECT_API_KEY"), System.getenv("PREFECT_API_AUTH_STRING"));
        Encoder<ILoggingEvent> encoder = encoder(context,
                LogFormat.parse(System.getenv(LogFormat.VARIABLE)).orElse(LogFormat.TEXT));
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
        // the schema validator warns about every keyword it does not know (Prefect's UI keys such as "position"),
        // once per template, which reads to a user as a problem with their pool; violations are reported by pworker
        context.getLogger("com.networknt.schema").setLevel(Level.ERROR);
        // SDKs that write credentials at DEBUG: the AWS SigV4 signer logs each canonical request with its
        // x-amz-security-token. Capped here, so PREFECT_LOGGING_LEVEL=DEBUG never puts a secret in the log.
        for (String secretive : SECRETIVE_LOGGERS) {
            context.getLogger(secretive).setLevel(Level.INFO);
        }
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    /**
     * The line format, with secrets masked. An unknown {@code PWORKER_LOG_FORMAT} gives text lines here; the
     * command refuses it with a message once it runs (exit 2), which Logback's start-up cannot do.
     */
    static Encoder<ILoggingEvent> encoder(LoggerContext context, LogFormat format) {
        Encoder<ILoggingEvent> inner;
        if (format == LogFormat.JSON) {
            inner = new JsonLogEncoder();
        } else {
            PatternLayoutEncoder pattern = new PatternLayoutEncoder();
            pattern.setPattern(PATTERN);
            inner = pattern;
        }
        inner.setContext(context);
        MaskingEncoder masking = new MaskingEncoder(inner);
        masking.setContext(context);
        masking.start();
        return masking;
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
