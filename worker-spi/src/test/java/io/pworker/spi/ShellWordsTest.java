package io.pworker.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ShellWordsTest {

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("prefect flow-run execute", List.of("prefect", "flow-run", "execute")),
                Arguments.of("  a   b\tc ", List.of("a", "b", "c")),
                Arguments.of("echo 'hello world'", List.of("echo", "hello world")),
                Arguments.of("echo \"a \\\"q\\\" b\"", List.of("echo", "a \"q\" b")),
                Arguments.of("echo a\\ b", List.of("echo", "a b")),
                Arguments.of("echo ''", List.of("echo", "")),
                Arguments.of("echo 'a'\"b\"c", List.of("echo", "abc")),
                Arguments.of("sh -c 'echo $HOME; exit 3'", List.of("sh", "-c", "echo $HOME; exit 3")),
                Arguments.of("echo $HOME | cat > x", List.of("echo", "$HOME", "|", "cat", ">", "x")),
                Arguments.of("echo \"single ' inside\"", List.of("echo", "single ' inside")),
                Arguments.of("", List.of()));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("cases")
    void splitsLikeAPosixShellWithoutExpanding(String line, List<String> expected) {
        assertThat(ShellWords.split(line)).isEqualTo(expected);
    }

    @Test
    void unbalancedQuotesAreErrors() {
        assertThatThrownBy(() -> ShellWords.split("echo 'oops")).hasMessageContaining("single quote");
        assertThatThrownBy(() -> ShellWords.split("echo \"oops")).hasMessageContaining("double quote");
    }
}
