package io.drafter.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import sun.misc.Signal;

/**
 * SIGINT, SIGTERM and SIGHUP as one stop request of a long-running command, which the command's own thread then
 * carries out in order (suspend the VM, then stop QEMU, then unmount): instead of the JVM's shutdown hooks, which run
 * at the same time as each other and end the process when they return.
 *
 * <p>The first signal completes {@link #requested()} with its name. A signal during the stop does not cut it short:
 * it prints what the command is still doing (a SIGKILL would). Where the JVM refuses a handler (a signal that was
 * ignored when it started, as {@code nohup} does), that signal keeps its old behaviour.
 *
 * <p><b>Note:</b> one instance per process; the handlers run on the JVM's signal thread and never block.
 */
final class StopSignals implements AutoCloseable {
    private static final List<String> SIGNALS = List.of("INT", "TERM", "HUP");

    private final String command;
    private final PrintStream err;
    private final CompletableFuture<String> requested = new CompletableFuture<>();
    private final java.util.Map<Signal, sun.misc.SignalHandler> previous = new java.util.LinkedHashMap<>();
    private volatile Supplier<String> busy = () -> "stopping";

    private StopSignals(String command, PrintStream err) {
        this.command = command;
        this.err = err;
    }

    /** Installs the handlers for {@code command} (e.g. "drafter peer"); messages go to {@code err}. */
    static StopSignals install(String command, PrintStream err) {
        StopSignals s = new StopSignals(command, err);
        for (String name : SIGNALS) {
            try {
                Signal sig = new Signal(name);
                s.previous.put(sig, Signal.handle(sig, s::onSignal));
            } catch (IllegalArgumentException e) {
                // The JVM keeps this signal (or it does not exist here): its default behaviour stays.
            }
        }
        return s;
    }

    private void onSignal(Signal signal) {
        String name = "SIG" + signal.getName();
        if (requested.complete(name)) {
            err.println(command + ": " + name + " received; " + busy.get());
            err.flush();
        } else {
            err.println(command + ": " + name + " received; still " + busy.get()
                    + " (a second signal does not cut it short; SIGKILL would lose what is not saved yet)");
            err.flush();
        }
    }

    /**
     * Gives the signals back their handlers from before {@link #install} (the command returned; in a test JVM the
     * next test must not find them caught).
     */
    @Override
    public void close() {
        previous.forEach((sig, handler) -> {
            try {
                Signal.handle(sig, handler);
            } catch (IllegalArgumentException e) {
                // Left as it is.
            }
        });
        previous.clear();
    }

    /** Completes with the signal's name (e.g. {@code SIGTERM}) when the first stop signal arrives. */
    CompletableFuture<String> requested() {
        return requested;
    }

    /** Whether a stop was asked for. */
    boolean isRequested() {
        return requested.isDone();
    }

    /** What later signals are told the command is still doing, e.g. "suspending the VM into its devices". */
    void busy(Supplier<String> whatItDoes) {
        this.busy = whatItDoes;
    }

    /** The exit status of a command aborted by the signal: 128 + its number, as a shell reports it. */
    int abortedExitCode() {
        return switch (requested.getNow("")) {
            case "SIGHUP" -> 129;
            case "SIGINT" -> 130;
            case "SIGTERM" -> 143;
            default -> 1;
        };
    }
}
