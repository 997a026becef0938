package io.drafter.cli;

import java.io.PrintWriter;
import java.util.List;

/** Shared shape of the long-running commands: run until SIGINT/SIGTERM/SIGHUP, then tear down in order and exit 0. */
final class UntilSignal {
    private UntilSignal() {}

    /**
     * Tells the user how to stop {@code command}, blocks until a stop signal arrives, then runs {@code teardown} on
     * this thread and prints {@code goodbye}. Install {@code stop} before creating anything, so that a signal during
     * the set-up waits for it and then removes it too.
     *
     * @return the exit status: 0
     */
    static int await(StopSignals stop, String command, PrintWriter out, Runnable teardown, String goodbye) {
        stop.busy(() -> "removing what it created");
        out.println(command + ": running; SIGINT (Ctrl-C) or SIGTERM removes everything it created");
        out.flush();
        stop.requested().join();
        teardown.run();
        out.println(command + ": " + goodbye);
        out.flush();
        return 0;
    }

    /** Prints the result of a {@code --clean}. */
    static int printCleaned(String command, PrintWriter out, List<String> removed) {
        removed.forEach(r -> out.println("removed " + r));
        out.println(command + ": " + (removed.isEmpty() ? "nothing to clean" : "cleaned"));
        out.flush();
        return 0;
    }
}
