package io.pworker.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Lines cut from output that arrives in arbitrary pieces, as {@code BufferedReader.readLine} would cut them. */
class LineSplitterTest {

    private final List<String> lines = new ArrayList<>();
    private final LineSplitter splitter = new LineSplitter(lines::add);

    private void feed(String... pieces) {
        for (String piece : pieces) {
            byte[] b = piece.getBytes(StandardCharsets.UTF_8);
            splitter.accept(b, 0, b.length);
        }
    }

    @Test
    void everyKindOfLineBreakEndsALineAndACrLfCutInTwoIsStillOneBreak() {
        feed("a\nb\r\nc\rd", "\r", "\ne\n\n");
        assertThat(lines).containsExactly("a", "b", "c", "d", "e", "");
    }

    @Test
    void anUnfinishedLineIsHeldBackUntilItEndsOrIsFlushed() {
        feed("par", "tial");
        assertThat(lines).isEmpty();
        assertThat(splitter.pendingBytes()).isEqualTo(7);
        feed(" line\nlast");
        assertThat(lines).containsExactly("partial line");
        splitter.flush();
        splitter.flush();
        assertThat(lines).containsExactly("partial line", "last");
        assertThat(splitter.pendingBytes()).isZero();
    }

    @Test
    void aCharacterSplitBetweenTwoReadsIsDecodedWhole() {
        byte[] b = "größe €\n".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i++) {
            splitter.accept(b, i, i + 1);
        }
        assertThat(lines).containsExactly("größe €");
    }

    @Test
    void aLineWithoutBreaksIsPassedOnInPiecesOfBoundedSize() {
        byte[] chunk = "x".repeat(64 * 1024).getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < 17; i++) {
            splitter.accept(chunk, 0, chunk.length);
        }
        assertThat(lines).singleElement().satisfies(l -> assertThat(l).hasSize(LineSplitter.MAX_LINE));
        assertThat(splitter.pendingBytes()).isEqualTo(64 * 1024);
    }
}
