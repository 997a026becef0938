package io.drafter.net;

import java.util.List;

/**
 * An external command ({@code ip}, {@code nft}, {@code sysctl}) exited non-zero or could not be started. Carries
 * the command line, its exit code ({@code -1} when it never ran) and the first line of its standard error.
 */
public final class CommandFailedException extends NetException {
    private final List<String> command;
    private final int exitCode;
    private final String stderr;

    /** Creates the exception; {@code step} says what the command was for ("create namespace ark0"). */
    public CommandFailedException(String step, List<String> command, int exitCode, String stderr) {
        super("could not " + step + ": " + firstLine(stderr, exitCode) + " (" + String.join(" ", command) + ")");
        this.command = List.copyOf(command);
        this.exitCode = exitCode;
        this.stderr = stderr;
    }

    /** The command line that failed. */
    public List<String> command() {
        return command;
    }

    /** The exit code, or {@code -1} when the command could not be started. */
    public int exitCode() {
        return exitCode;
    }

    /** Everything the command wrote to standard error. */
    public String stderr() {
        return stderr;
    }

    private static String firstLine(String stderr, int exitCode) {
        String s = stderr == null ? "" : stderr.strip();
        int nl = s.indexOf('\n');
        if (nl >= 0) {
            s = s.substring(0, nl).strip();
        }
        return s.isEmpty() ? "exit code " + exitCode : s;
    }
}
