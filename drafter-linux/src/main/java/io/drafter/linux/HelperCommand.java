package io.drafter.linux;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The one way this project runs a short-lived helper command ({@code ip}, {@code nft}, {@code mkfs.ext4}, {@code
 * apt-get}, {@code qemu-system-x86_64 --version}, a KVM probe): a deadline for the whole run, standard output and
 * error each read on a thread of their own from the start (so a chatty child cannot fill a pipe and block, and a child
 * that never exits is killed when its deadline passes), and one exception, {@link HelperCommandException}, whose
 * message names the step, quotes the command's own error and gives the command line.
 *
 * <pre>{@code
 * String version = HelperCommand.of("dpkg-deb", "-f", deb, "Version").step("read the version of " + deb).check().stdout();
 * }</pre>
 *
 * <p>Long-lived children (QEMU, a forwarder) are started by {@link TiedProcesses}, not here; {@link #tiedToJvm()}
 * starts a helper through it when the helper must not outlive a killed JVM either.
 *
 * <p><b>Note:</b> a {@code HelperCommand} is a builder: configure it and run it from one thread. Each {@link #run()}
 * starts a new process.
 */
public final class HelperCommand {
    /** The deadline of a command that sets none: long enough for {@code ip}, {@code nft} or {@code sysctl}. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    /** The most bytes kept of each output stream; the rest is read and dropped, so the child never blocks. */
    public static final int MAX_CAPTURED_BYTES = 16 << 20;

    /** How long the output readers may take to reach the end of the pipes once the command ended or was killed. */
    private static final Duration DRAIN_GRACE = Duration.ofSeconds(2);

    private final List<String> command;
    private Duration timeout = DEFAULT_TIMEOUT;
    private String input;
    private Path directory;
    private boolean inheritIo;
    private boolean tied;
    private String step;

    private HelperCommand(List<String> command) {
        if (command.isEmpty()) {
            throw new IllegalArgumentException("could not run a helper command: the command line is empty");
        }
        this.command = List.copyOf(command);
    }

    /** A command with its arguments, not run through a shell. */
    public static HelperCommand of(String... command) {
        return new HelperCommand(List.of(command));
    }

    /** A command with its arguments, not run through a shell. */
    public static HelperCommand of(List<String> command) {
        return new HelperCommand(command);
    }

    /** The longest the whole run may take, from start to exit; then the command and its children are killed. */
    public HelperCommand timeout(Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("could not run " + program() + ": timeout must be positive");
        }
        this.timeout = timeout;
        return this;
    }

    /** Text (UTF-8) for the command's standard input; without it the command reads {@code /dev/null}. */
    public HelperCommand input(String input) {
        this.input = input;
        return this;
    }

    /** The working directory; without it, this JVM's. */
    public HelperCommand directory(Path directory) {
        this.directory = directory;
        return this;
    }

    /**
     * Lets the command use this JVM's standard input, output and error (a build that shows its progress): nothing is
     * captured, and a failure reads {@code exit code N}.
     */
    public HelperCommand inheritIo() {
        this.inheritIo = true;
        return this;
    }

    /** Starts the command through {@link TiedProcesses}: it dies with this JVM even when the JVM is killed. */
    public HelperCommand tiedToJvm() {
        this.tied = true;
        return this;
    }

    /** What the command is for, as errors say it: {@code could not <step>: ...}; default {@code run <program>}. */
    public HelperCommand step(String step) {
        this.step = step;
        return this;
    }

    /** The command line. */
    public List<String> command() {
        return command;
    }

    /**
     * Runs the command to its end and returns how it exited, whatever the exit code.
     *
     * @throws HelperCommandException when it cannot be started, passes its deadline (it is killed) or the calling
     *     thread is interrupted (it is killed, the interrupt flag stays set)
     */
    public Result run() throws HelperCommandException {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        Process p;
        try {
            p = tied ? TiedProcesses.start(builder()) : builder().start();
        } catch (IOException e) {
            throw new HelperCommandException(
                    HelperCommandException.Kind.NOT_STARTED, step(), command, -1, "", "", e.getMessage(), e);
        }
        CompletableFuture<String> out = inheritIo ? CompletableFuture.completedFuture("") : drain(p.getInputStream());
        CompletableFuture<String> err = inheritIo ? CompletableFuture.completedFuture("") : drain(p.getErrorStream());
        if (input != null) {
            feed(p.getOutputStream(), input);
        }
        try {
            if (!p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                kill(p);
                throw new HelperCommandException(
                        HelperCommandException.Kind.TIMED_OUT,
                        step(),
                        command,
                        -1,
                        await(out, DRAIN_GRACE.toNanos()),
                        await(err, DRAIN_GRACE.toNanos()),
                        "timed out after " + describe(timeout),
                        null);
            }
        } catch (InterruptedException e) {
            kill(p);
            Thread.currentThread().interrupt();
            throw new HelperCommandException(
                    HelperCommandException.Kind.INTERRUPTED, step(), command, -1, "", "", "interrupted", e);
        }
        // The command ended; a grandchild that kept the pipes open gets until the deadline to close them.
        long drainNs = Math.max(DRAIN_GRACE.toNanos(), deadline - System.nanoTime());
        return new Result(
                command,
                p.exitValue(),
                await(out, drainNs),
                await(err, drainNs),
                Duration.ofNanos(System.nanoTime() - start));
    }

    /**
     * Runs the command as {@link #run()} does and also fails when it exits non-zero.
     *
     * @throws HelperCommandException of kind {@link HelperCommandException.Kind#FAILED} naming the step, the first line
     *     the command wrote to its standard error (or its exit code) and the command line; or as {@link #run()}
     */
    public Result check() throws HelperCommandException {
        Result r = run();
        if (!r.ok()) {
            throw new HelperCommandException(
                    HelperCommandException.Kind.FAILED,
                    step(),
                    command,
                    r.exitCode(),
                    r.stdout(),
                    r.stderr(),
                    firstLine(r.stderr()).orElse("exit code " + r.exitCode()),
                    null);
        }
        return r;
    }

    private ProcessBuilder builder() {
        ProcessBuilder pb = new ProcessBuilder(command);
        if (directory != null) {
            pb.directory(directory.toFile());
        }
        if (inheritIo) {
            return pb.inheritIO();
        }
        if (input == null) {
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        return pb;
    }

    private String step() {
        return step != null ? step : "run " + program();
    }

    private String program() {
        return Path.of(command.getFirst()).getFileName().toString();
    }

    /** Reads {@code s} to its end on a virtual thread, keeping at most {@link #MAX_CAPTURED_BYTES}. */
    private CompletableFuture<String> drain(InputStream s) {
        CompletableFuture<String> f = new CompletableFuture<>();
        Thread.ofVirtual().name("helper-output-" + program()).start(() -> {
            ByteArrayOutputStream kept = new ByteArrayOutputStream();
            long dropped = 0;
            byte[] buf = new byte[8192];
            try (s) {
                for (int n; (n = s.read(buf)) >= 0; ) {
                    int keep = Math.min(n, MAX_CAPTURED_BYTES - kept.size());
                    kept.write(buf, 0, keep);
                    dropped += n - keep;
                }
            } catch (IOException e) {
                // The stream was closed under us (the command was killed): what was read so far is the output.
            }
            String text = kept.toString(StandardCharsets.UTF_8);
            f.complete(dropped == 0 ? text : text + "\n[" + dropped + " more bytes not kept]");
        });
        return f;
    }

    /** Writes {@code text} to the command's input on a virtual thread: a command that does not read cannot block us. */
    private void feed(OutputStream in, String text) {
        Thread.ofVirtual().name("helper-input-" + program()).start(() -> {
            try (in) {
                in.write(text.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // The command exited without reading all of its input; its exit code and error output tell why.
            }
        });
    }

    private static String await(CompletableFuture<String> f, long nanos) {
        try {
            return f.get(nanos, TimeUnit.NANOSECONDS);
        } catch (TimeoutException | ExecutionException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    /** Kills the command and every process it started that still runs, then reaps it. */
    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        try {
            p.waitFor(DRAIN_GRACE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static java.util.Optional<String> firstLine(String text) {
        return text.lines().map(String::strip).filter(l -> !l.isEmpty()).findFirst();
    }

    static String describe(Duration d) {
        return d.toMillis() < 10_000 ? d.toMillis() + " ms" : d.toSeconds() + " s";
    }

    /**
     * How a command ended.
     *
     * @param command the command line
     * @param exitCode its exit status
     * @param stdout what it wrote to standard output (UTF-8), empty with {@link #inheritIo()}
     * @param stderr what it wrote to standard error (UTF-8), empty with {@link #inheritIo()}
     * @param elapsed from start to exit
     */
    public record Result(List<String> command, int exitCode, String stdout, String stderr, Duration elapsed) {
        public Result {
            command = List.copyOf(command);
            Objects.requireNonNull(stdout, "stdout");
            Objects.requireNonNull(stderr, "stderr");
        }

        /** Whether the command exited with status 0. */
        public boolean ok() {
            return exitCode == 0;
        }
    }
}
