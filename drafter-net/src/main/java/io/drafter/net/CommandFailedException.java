package io.drafter.net;

import io.drafter.linux.HelperCommand;
import io.drafter.linux.HelperCommandException;
import java.util.List;

/**
 * An external command ({@code ip}, {@code nft}, {@code sysctl}) exited non-zero, could not be started or ran past its
 * deadline. The message is one line, {@code could not <step>: <first line of its error output> (<command line>)}, as
 * {@link HelperCommand} words it; {@link #kind()} says which of the failures it was.
 */
public final class CommandFailedException extends NetException {
    private final HelperCommandException.Kind kind;
    private final List<String> command;
    private final int exitCode;
    private final String stderr;

    /** Wraps the helper command's failure; its message is this exception's. */
    public CommandFailedException(HelperCommandException failure) {
        super(failure.getMessage(), failure);
        this.kind = failure.kind();
        this.command = failure.command();
        this.exitCode = failure.exitCode();
        this.stderr = failure.stderr();
    }

    /**
     * Creates the exception for a command run with {@link CommandRunner#attempt} whose failure matters after all;
     * {@code step} says what the command was for ("remove nft table t"), {@code exitCode} is {@code -1} when it never
     * ran to its end.
     */
    public CommandFailedException(String step, List<String> command, int exitCode, String stderr) {
        super("could not " + step + ": " + firstLine(stderr, exitCode) + " (" + String.join(" ", command) + ")");
        this.kind = exitCode == -1 ? HelperCommandException.Kind.NOT_STARTED : HelperCommandException.Kind.FAILED;
        this.command = List.copyOf(command);
        this.exitCode = exitCode;
        this.stderr = stderr == null ? "" : stderr;
    }

    /** The command line that failed. */
    public List<String> command() {
        return command;
    }

    /** The exit code, or {@code -1} when the command could not be started or was killed. */
    public int exitCode() {
        return exitCode;
    }

    /** Everything the command wrote to standard error. */
    public String stderr() {
        return stderr;
    }

    /** Why the command did not succeed. */
    public HelperCommandException.Kind kind() {
        return kind;
    }

    private static String firstLine(String stderr, int exitCode) {
        return stderr == null
                ? "exit code " + exitCode
                : stderr.lines()
                        .map(String::strip)
                        .filter(l -> !l.isEmpty())
                        .findFirst()
                        .orElse("exit code " + exitCode);
    }
}
