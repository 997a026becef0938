package io.drafter.linux;

import java.io.IOException;
import java.util.List;

/**
 * A helper command ({@link HelperCommand}) that could not be started, ran past its deadline, was interrupted or exited
 * non-zero: {@link #kind()} says which.
 *
 * <p>The message is one line, {@code could not <step>: <detail> (<command line>)}, where the detail is the command's
 * own first line of error output (or {@code exit code N}), {@code timed out after 300 ms}, {@code interrupted}, or why
 * the program could not be started.
 */
public final class HelperCommandException extends IOException {
    /** Why the command did not succeed. */
    public enum Kind {
        /** The program could not be started (not installed, not executable). */
        NOT_STARTED,
        /** It ran past its deadline and was killed. */
        TIMED_OUT,
        /** The waiting thread was interrupted; the command was killed. */
        INTERRUPTED,
        /** It exited with a status other than 0. */
        FAILED
    }

    private final Kind kind;
    private final List<String> command;
    private final int exitCode;
    private final String stdout;
    private final String stderr;

    HelperCommandException(
            Kind kind,
            String step,
            List<String> command,
            int exitCode,
            String stdout,
            String stderr,
            String detail,
            Throwable cause) {
        super("could not " + step + ": " + detail + " (" + String.join(" ", command) + ")", cause);
        this.kind = kind;
        this.command = List.copyOf(command);
        this.exitCode = exitCode;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    /** Why the command did not succeed. */
    public Kind kind() {
        return kind;
    }

    /** The command line. */
    public List<String> command() {
        return command;
    }

    /** The exit status for {@link Kind#FAILED}, else {@code -1}. */
    public int exitCode() {
        return exitCode;
    }

    /** What the command wrote to standard output before it ended or was killed. */
    public String stdout() {
        return stdout;
    }

    /** What the command wrote to standard error before it ended or was killed. */
    public String stderr() {
        return stderr;
    }
}
