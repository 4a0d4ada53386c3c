package io.pworker.aci;

import java.io.PrintStream;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.function.Consumer;

/**
 * Follows a container's output through ACI's log call, which returns the last lines with timestamps each time:
 * lines newer than the last one printed go to the console, prefixed with the group's name as the docker plugin
 * prefixes with the container's. The last few lines are kept to explain a crash. Owned by the watch thread.
 */
final class ContainerOutput {

    static final int TAIL = 100;
    private static final int KEPT = 10;

    private final String prefix;
    private final PrintStream console;
    private final Consumer<String> runLog;
    private final Deque<String> kept = new ArrayDeque<>();
    private OffsetDateTime last;
    /** Lines at exactly {@link #last}, already printed: the next call may return them again. */
    private int printedAtLast;

    /**
     * @param runLog where each new line also goes: the flow run's log in Prefect, where someone looking at the
     *               run expects its output rather than in the worker's console
     */
    ContainerOutput(String groupName, PrintStream console, Consumer<String> runLog) {
        this.prefix = "[" + groupName + "] ";
        this.console = console;
        this.runLog = runLog;
    }

    /** Prints what is new in {@code content}, the answer of a log call with timestamps. */
    void accept(String content) {
        if (content == null) {
            return;
        }
        OffsetDateTime newest = last;
        int atNewest = printedAtLast;
        int seenAtLast = 0;
        for (String raw : content.split("\n")) {
            int space = raw.indexOf(' ');
            OffsetDateTime at;
            try {
                at = OffsetDateTime.parse(space < 0 ? raw.strip() : raw.substring(0, space));
            } catch (DateTimeParseException e) {
                continue; // not a timestamped line: nothing says whether it was printed before
            }
            boolean seen = last != null && (at.isBefore(last) || at.isEqual(last) && ++seenAtLast <= printedAtLast);
            if (!seen) {
                String line = space < 0 ? "" : raw.substring(space + 1);
                console.println(prefix + line);
                runLog.accept(line);
                keep(line);
            }
            if (newest == null || at.isAfter(newest)) {
                newest = at;
                atNewest = 1;
            } else if (at.isEqual(newest) && !seen) {
                atNewest++;
            }
        }
        last = newest;
        printedAtLast = atNewest;
    }

    private void keep(String line) {
        kept.addLast(line);
        while (kept.size() > KEPT) {
            kept.removeFirst();
        }
    }

    /** The last lines printed, oldest first. */
    List<String> tail() {
        return List.copyOf(kept);
    }
}
