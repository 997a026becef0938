package io.drafter.cli;

import io.drafter.pkg.Progress;
import picocli.CommandLine.Option;

/** The {@code --progress} option shared by commands that move many bytes (picocli mixin). */
public final class ProgressOption {
    @Option(
            names = {"--progress", "-progress"},
            arity = "0..1",
            fallbackValue = "true",
            description = "Draw a progress bar on stderr (default: only when stderr is a terminal).")
    Boolean wanted;

    /** A progress bar on stderr when asked for, or by default when there is a terminal. */
    Progress bar(String verb) {
        return on() ? Progress.bar(System.err, verb) : Progress.NONE;
    }

    /** Whether progress is drawn: as asked for, else when there is a terminal. */
    boolean on() {
        return wanted != null
                ? wanted
                : System.console() != null && System.console().isTerminal();
    }
}
