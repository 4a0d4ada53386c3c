package io.pworker.logging;

import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.JsonEscapeUtil;

/**
 * Logback's own JSON encoder, one object per line, trimmed to what a log pipeline needs: {@code timestamp} (epoch
 * milliseconds), {@code level}, {@code threadName}, {@code loggerName}, {@code mdc} (with {@code flow_run_id} on a
 * run's lines), {@code formattedMessage}, {@code throwable}, plus {@code worker_name} once the worker has a name.
 * The unformatted message and its arguments are left out: arguments are where a secret would travel unmasked by the
 * message's own wording, and the formatted message says the same.
 */
public final class JsonLogEncoder extends JsonEncoder {

    public JsonLogEncoder() {
        setWithSequenceNumber(false);
        setWithNanoseconds(false);
        setWithContext(false);
        setWithMessage(false);
        setWithArguments(false);
        setWithFormattedMessage(true);
    }

    @Override
    protected void appendCustomFields(StringBuilder sb, ILoggingEvent event) {
        String worker = LogFields.worker();
        if (worker != null) {
            sb.append(VALUE_SEPARATOR);
            appenderMember(sb, LogFields.WORKER_NAME, JsonEscapeUtil.jsonEscapeString(worker));
        }
    }
}
