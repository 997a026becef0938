package io.drafter.net;

import io.drafter.linux.HelperCommand;
import io.drafter.linux.HelperCommandException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the external networking tools ({@code ip}, {@code nft}, {@code sysctl}) through {@link HelperCommand} with a
 * deadline of {@link #TIMEOUT} and turns a non-zero exit into a {@link CommandFailedException} that names the step,
 * the command and its error output. Every failure is also logged at {@code WARNING} with the full command line.
 *
 * <p>Thread-safe: each call starts its own process.
 */
public final class CommandRunner {
    private static final System.Logger LOG = System.getLogger(CommandRunner.class.getName());

    /** The longest one networking command may take. */
    public static final Duration TIMEOUT = HelperCommand.DEFAULT_TIMEOUT;

    /** A runner; it holds no state. */
    public CommandRunner() {}

    /** What a finished command printed and how it exited. */
    public record Result(int exitCode, String stdout, String stderr) {
        /** Whether the command exited with status 0. */
        public boolean ok() {
            return exitCode == 0;
        }
    }

    /** Runs {@code command}; throws {@link CommandFailedException} naming {@code step} if it does not exit 0. */
    public Result run(String step, List<String> command) {
        return run(step, command, null);
    }

    /** Runs {@code command} with {@code stdin} (may be null) on its standard input; throws if it does not exit 0. */
    public Result run(String step, List<String> command, String stdin) {
        try {
            HelperCommand.Result r = helper(command, stdin).step(step).check();
            return new Result(r.exitCode(), r.stdout(), r.stderr());
        } catch (HelperCommandException e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "command failed ({0}): {1}: {2}",
                    e.exitCode(),
                    String.join(" ", command),
                    e.stderr().strip());
            throw new CommandFailedException(e);
        }
    }

    /**
     * Runs {@code command} and returns its result whatever the exit code; used for probes and best-effort removal.
     * A command that cannot be started, or that runs past the deadline, is reported as exit code {@code -1} with the
     * reason as its error output.
     */
    public Result attempt(List<String> command, String stdin) {
        try {
            HelperCommand.Result r = helper(command, stdin).run();
            return new Result(r.exitCode(), r.stdout(), r.stderr());
        } catch (HelperCommandException e) {
            return new Result(
                    -1,
                    e.stdout(),
                    switch (e.kind()) {
                        case NOT_STARTED ->
                            "cannot start " + command.getFirst() + ": "
                                    + (e.getCause() == null ? "" : e.getCause().getMessage());
                        case TIMED_OUT -> "timed out after " + TIMEOUT.toSeconds() + " s";
                        case INTERRUPTED -> "interrupted";
                        case FAILED -> e.stderr();
                    });
        }
    }

    /** Convenience for {@code attempt(List.of(command), null)}. */
    public Result attempt(String... command) {
        return attempt(List.of(command), null);
    }

    /** Prefixes {@code command} so that it runs inside network namespace {@code netns}. */
    public static List<String> inNetns(String netns, String... command) {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", netns));
        all.addAll(List.of(command));
        return all;
    }

    private static HelperCommand helper(List<String> command, String stdin) {
        HelperCommand c = HelperCommand.of(command).timeout(TIMEOUT);
        return stdin == null ? c : c.input(stdin);
    }
}
