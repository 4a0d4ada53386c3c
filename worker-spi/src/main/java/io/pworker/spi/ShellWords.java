package io.pworker.spi;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a command line into arguments the way a POSIX shell does for quoting ({@code '…'}, {@code "…"},
 * backslash) without running a shell: no variable expansion, globbing, pipes or redirection. Plugins use it so
 * that a flow run's {@code command} never passes through {@code sh -c} and job variables cannot inject shell
 * syntax.
 */
public final class ShellWords {

    private ShellWords() {
    }

    /** @throws IllegalArgumentException on an unbalanced quote */
    public static List<String> split(String line) {
        List<String> args = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        boolean inWord = false;
        int i = 0;
        while (i < line.length()) {
            char c = line.charAt(i);
            if (c == '\'') {
                int end = line.indexOf('\'', i + 1);
                if (end < 0) {
                    throw new IllegalArgumentException("unbalanced single quote in command: " + line);
                }
                current.append(line, i + 1, end);
                inWord = true;
                i = end + 1;
            } else if (c == '"') {
                i++;
                boolean closed = false;
                while (i < line.length()) {
                    char d = line.charAt(i);
                    if (d == '"') {
                        closed = true;
                        i++;
                        break;
                    }
                    if (d == '\\' && i + 1 < line.length() && "\"\\$`\n".indexOf(line.charAt(i + 1)) >= 0) {
                        if (line.charAt(i + 1) != '\n') {
                            current.append(line.charAt(i + 1));
                        }
                        i += 2;
                        continue;
                    }
                    current.append(d);
                    i++;
                }
                if (!closed) {
                    throw new IllegalArgumentException("unbalanced double quote in command: " + line);
                }
                inWord = true;
            } else if (c == '\\') {
                if (i + 1 < line.length()) {
                    if (line.charAt(i + 1) != '\n') {
                        current.append(line.charAt(i + 1));
                        inWord = true;
                    }
                    i += 2;
                } else {
                    i++;
                }
            } else if (Character.isWhitespace(c)) {
                if (inWord) {
                    args.add(current.toString());
                    current.setLength(0);
                    inWord = false;
                }
                i++;
            } else {
                current.append(c);
                inWord = true;
                i++;
            }
        }
        if (inWord) {
            args.add(current.toString());
        }
        return args;
    }
}
