package io.drafter.net;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs the external networking tools ({@code ip}, {@code nft}, {@code sysctl}) and turns a non-zero exit into a
 * {@link CommandFailedException} that names the step, the command and its error output. Every failure is also
 * logged at {@code WARNING} with the full command line.
 *
 * <p>Thread-safe: each call starts its own process.
 */
public final class CommandRunner {
    private static final System.Logger LOG = System.getLogger(CommandRunner.class.getName());
    private static final long TIMEOUT_SECONDS = 60;

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
        Result r = attempt(command, stdin);
        if (!r.ok()) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "command failed ({0}): {1}: {2}",
                    r.exitCode(),
                    String.join(" ", command),
                    r.stderr().strip());
            throw new CommandFailedException(step, command, r.exitCode(), r.stderr());
        }
        return r;
    }

    /**
     * Runs {@code command} and returns its result whatever the exit code; used for probes and best-effort removal.
     * A command that cannot be started at all is reported as exit code {@code -1}.
     */
    public Result attempt(List<String> command, String stdin) {
        ProcessBuilder pb = new ProcessBuilder(command);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return new Result(-1, "", "cannot start " + command.getFirst() + ": " + e.getMessage());
        }
        CompletableFuture<String> out = drain(p.getInputStream());
        CompletableFuture<String> err = drain(p.getErrorStream());
        try (OutputStream in = p.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            // the command exited without reading its input; its exit code and stderr tell why
        }
        try {
            if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor();
                return new Result(-1, out.join(), "timed out after " + TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            return new Result(-1, "", "interrupted");
        }
        return new Result(p.exitValue(), out.join(), err.join());
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

    private static CompletableFuture<String> drain(InputStream s) {
        return CompletableFuture.supplyAsync(
                () -> {
                    try (s) {
                        return new String(s.readAllBytes(), StandardCharsets.UTF_8);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                },
                Thread::startVirtualThread);
    }
}
