package io.pworker.process;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Cuts a byte stream that arrives in pieces into lines, as {@link java.io.BufferedReader#readLine} would: a line
 * ends at {@code \n}, {@code \r} or {@code \r\n}, and the terminator is not part of it. The copy of flow-run output
 * used to go through {@code readLine}, so progress bars that redraw with {@code \r} keep printing one line per
 * redraw. Bytes are cut before they are decoded: in UTF-8, {@code \n} and {@code \r} never occur inside a
 * character, so a character split between two reads is put together again (only a line cut at
 * {@link #MAX_LINE} may have one cut in two).
 *
 * <p>Not thread-safe: it belongs to the thread that copies the output.
 */
final class LineSplitter {

    /** A longer line is passed on in pieces of this size, so that output without line breaks cannot fill the heap. */
    static final int MAX_LINE = 1 << 20;

    private final Consumer<String> lines;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private boolean afterCarriageReturn;

    LineSplitter(Consumer<String> lines) {
        this.lines = lines;
    }

    /** Passes on every line that {@code bytes[from, to)} completes and keeps the unfinished rest. */
    void accept(byte[] bytes, int from, int to) {
        int start = from;
        for (int i = from; i < to; i++) {
            byte b = bytes[i];
            if (afterCarriageReturn) {
                afterCarriageReturn = false;
                if (b == '\n') {
                    // the second half of a \r\n whose \r already ended the line
                    start = i + 1;
                    continue;
                }
            }
            if (b == '\n' || b == '\r') {
                emit(bytes, start, i);
                start = i + 1;
                afterCarriageReturn = b == '\r';
            }
        }
        pending.write(bytes, start, to - start);
        if (pending.size() >= MAX_LINE) {
            emit(bytes, to, to);
        }
    }

    /** Passes on the unfinished last line, if there is one: the output ended without a final line break. */
    void flush() {
        if (pending.size() > 0) {
            emit(new byte[0], 0, 0);
        }
    }

    /** How many bytes of an unfinished line are held back. */
    int pendingBytes() {
        return pending.size();
    }

    private void emit(byte[] bytes, int from, int to) {
        String line;
        if (pending.size() == 0) {
            line = new String(bytes, from, to - from, StandardCharsets.UTF_8);
        } else {
            pending.write(bytes, from, to - from);
            line = pending.toString(StandardCharsets.UTF_8);
            pending.reset();
        }
        lines.accept(line);
    }
}
