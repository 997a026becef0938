package io.drafter.cli.lab;

import io.drafter.base.testing.Await;
import io.drafter.cli.Drafter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A {@code drafter} command in its own JVM, as a user runs it: output (stdout and stderr) to a log file, signals by
 * PID, SIGKILL on {@link #close()} if it still runs. SIGINT is given back its default action ({@code env
 * --default-signal}), since a JVM started from a background job inherits it ignored.
 *
 * <p><b>Note:</b> one test thread per instance.
 */
public final class DrafterProcess implements AutoCloseable {
    private final Process process;
    private final Path log;
    private final String name;

    private DrafterProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /**
     * Starts {@code drafter <args>} named {@code name} (for messages), logging to {@code log}; {@code holds} are test
     * hold points ({@code io.drafter.peer.TestHold}).
     */
    public static DrafterProcess start(String name, Path log, List<String> args, String... holds) throws IOException {
        return start(name, log, args, java.util.Map.of(), null, holds);
    }

    /** As {@link #start(String, Path, List, String...)}, with more environment and a working directory (or null). */
    public static DrafterProcess start(
            String name, Path log, List<String> args, java.util.Map<String, String> env, Path cwd, String... holds)
            throws IOException {
        // setsid: a process group of its own, as a command typed at a terminal has (signalGroup then is a Ctrl-C);
        // the test JVM is no group leader's parent, so setsid does not fork and the PID stays the command's.
        List<String> cmd = new ArrayList<>(List.of(
                "setsid",
                "env",
                "--default-signal=INT",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-Xmx512m"));
        if (holds.length > 0) {
            cmd.add("-Ddrafter.test.hold=" + String.join(",", holds));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Drafter.class.getName()));
        cmd.addAll(args);
        Files.createDirectories(log.toAbsolutePath().getParent());
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(env);
        if (cwd != null) {
            pb.directory(cwd.toFile());
        }
        Process p = pb.redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .start();
        return new DrafterProcess(name, p, log);
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** The output so far. */
    public String output() {
        try {
            return Files.readString(log, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return "";
        }
    }

    /** Waits until the output contains {@code needle}; fails with the output's tail if the process ends or time runs out. */
    public void await(String needle, Duration timeout) throws InterruptedException {
        // The output is a file the process writes itself: it announces nothing, so it is polled.
        Await.until(
                timeout,
                name + " to print \"" + needle + "\"",
                () -> output().contains(needle) || !process.isAlive(),
                () -> "\n" + tail());
        if (!output().contains(needle)) {
            Thread.sleep(100); // it exited: the last lines may still be on their way to the file
            if (output().contains(needle)) {
                return;
            }
            throw new AssertionError(
                    name + " exited (" + process.exitValue() + ") before printing \"" + needle + "\":\n" + tail());
        }
    }

    /** Sends {@code signal} (e.g. "TERM", "INT") to the process. */
    public void signal(String signal) throws IOException, InterruptedException {
        Process k = new ProcessBuilder("kill", "-s", signal, Long.toString(process.pid()))
                .redirectErrorStream(true)
                .start();
        k.waitFor(10, TimeUnit.SECONDS);
    }

    /** Sends {@code signal} to the process's whole process group, as a terminal's Ctrl-C or {@code timeout} does. */
    public void signalGroup(String signal) throws IOException, InterruptedException {
        Process k = new ProcessBuilder("kill", "-s", signal, "--", "-" + process.pid())
                .redirectErrorStream(true)
                .start();
        k.waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGKILL, as the OOM killer does; waits for the process to be gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** Waits for the exit and returns its status; fails naming the output if it does not end in time. */
    public int waitExit(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError(name + " did not exit within " + timeout + ":\n" + tail());
        }
        return process.exitValue();
    }

    /** The last lines of the output, for failure messages. */
    public String tail() {
        // Without blank lines and control characters: a guest console on standard output fills both.
        List<String> lines = output().lines()
                .map(l -> l.replaceAll("[\\x00-\\x08\\x0b-\\x1f\\x7f]", ""))
                .filter(l -> !l.isBlank())
                .toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }
}
