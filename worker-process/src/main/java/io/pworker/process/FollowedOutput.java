package io.pworker.process;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One flow run's output file as the {@link OutputFollower} copies it to the console: how far it has been read, the
 * unfinished line held back, and the position last saved in the launch record. Belongs to the follower's thread.
 *
 * <p>The file is opened lazily and kept open, so a file removed by hand is still read to its end. It is opened for
 * writing too, only to be able to truncate it.
 */
final class FollowedOutput implements AutoCloseable {

    private final String flowRunId;
    private final Path file;
    private final LineSplitter lines;
    private FileChannel channel;
    /** Bytes of the file read so far. */
    private long offset;
    /** The position last saved, and when the next save may happen (System.nanoTime). */
    private long saved;
    private long nextSave = System.nanoTime();

    FollowedOutput(String flowRunId, Path file, String prefix, long position, PrintStream console) {
        this.flowRunId = flowRunId;
        this.file = file;
        this.offset = position;
        this.saved = position;
        this.lines = new LineSplitter(line -> console.println(prefix + line));
    }

    String flowRunId() {
        return flowRunId;
    }

    /**
     * Copies the lines completed since the last call, reading up to the size the file has now (not beyond, so that
     * a run that writes faster than the console takes its lines cannot keep the follower from the other runs).
     */
    void copy(ByteBuffer buffer) throws IOException {
        FileChannel ch = channel();
        if (ch == null) {
            return;
        }
        long size = ch.size();
        if (size < offset) {
            // emptied after the position was saved: by a worker that crashed before it could save position 0
            // (see truncateIfCopied), or by hand
            offset = 0;
        }
        while (offset < size) {
            buffer.clear();
            buffer.limit((int) Math.min(buffer.capacity(), size - offset));
            int n = ch.read(buffer, offset);
            if (n <= 0) {
                break;
            }
            lines.accept(buffer.array(), 0, n);
            offset += n;
        }
    }

    /**
     * Empties the file when it has grown beyond {@code limit} bytes and all of it has been read. The child opened it
     * with {@code O_APPEND}, so its next write lands at the new end, at 0. Output written between the size check
     * and the truncation (microseconds) is lost to the console. An unfinished line held back stays held back: its
     * end comes at the start of the emptied file.
     *
     * @return whether the file was emptied; the caller then saves position 0 at once
     */
    boolean truncateIfCopied(long limit) throws IOException {
        if (channel == null || offset <= limit || channel.size() != offset) {
            return false;
        }
        channel.truncate(0);
        offset = 0;
        return true;
    }

    /**
     * The position to save in the launch record, when it moved and the last save is at least {@code every} old; -1
     * otherwise. It is the start of the held-back line, so a worker that resumes from it prints that line whole.
     */
    long positionToSave(long everyNanos, boolean now) {
        long position = position();
        long t = System.nanoTime();
        if (position == saved || (!now && t - nextSave < 0)) {
            return -1;
        }
        saved = position;
        nextSave = t + everyNanos;
        return position;
    }

    /** Copies what is left, passes on an unfinished last line, and closes the file. */
    void finish(ByteBuffer buffer) throws IOException {
        try {
            copy(buffer);
        } finally {
            lines.flush();
            close();
        }
    }

    private long position() {
        return Math.max(0, offset - lines.pendingBytes());
    }

    private FileChannel channel() throws IOException {
        if (channel == null) {
            try {
                channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } catch (NoSuchFileException e) {
                // not there (yet, or removed by hand before it was opened): nothing to copy
                return null;
            }
        }
        return channel;
    }

    @Override
    public void close() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // a read-side close has nothing to lose
            }
            channel = null;
        }
    }
}
