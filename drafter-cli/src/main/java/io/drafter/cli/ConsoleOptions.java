package io.drafter.cli;

import io.drafter.vm.Console;
import picocli.CommandLine.Option;

/** Drafter's {@code --enable-output} / {@code --enable-input} flags and the guest console they select. */
final class ConsoleOptions {
    @Option(
            names = {"--enable-output", "-enable-output"},
            defaultValue = "true",
            arity = "0..1",
            description = "Serial console to stdout (on unless =false).")
    boolean enableOutput;

    @Option(
            names = {"--enable-input", "-enable-input"},
            defaultValue = "false",
            arity = "0..1",
            description = "Stdin to the serial console.")
    boolean enableInput;

    /** Where the guest console goes besides its log file. */
    Console console() {
        return enableInput ? Console.TERMINAL : enableOutput ? Console.OUTPUT : Console.LOG;
    }
}
