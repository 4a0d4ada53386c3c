package io.pworker.cli;

import picocli.CommandLine;

/** Entry point of the {@code pworker} command. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        int code = new CommandLine(new PworkerCommand()).setCaseInsensitiveEnumValuesAllowed(true).execute(args);
        System.exit(code);
    }
}
