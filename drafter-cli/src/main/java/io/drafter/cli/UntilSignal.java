package io.drafter.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** Shared shape of the long-running commands: wait for SIGINT/SIGTERM, then tear down in a shutdown hook. */
final class UntilSignal {
    private UntilSignal() {}

    /**
     * Registers {@code teardown} as a shutdown hook (it runs on SIGINT or SIGTERM, prints {@code goodbye}) and
     * blocks the calling thread until the JVM exits.
     */
    static void await(String command, PrintWriter out, Runnable teardown, String goodbye) throws InterruptedException {
        Runtime.getRuntime()
                .addShutdownHook(new Thread(
                        () -> {
                            teardown.run();
                            out.println(command + ": " + goodbye);
                            out.flush();
                        },
                        command + "-teardown"));
        out.println(command + ": running; SIGINT (Ctrl-C) or SIGTERM removes everything it created");
        out.flush();
        new CountDownLatch(1).await();
    }

    /** Prints the result of a {@code --clean}. */
    static int printCleaned(String command, PrintWriter out, List<String> removed) {
        removed.forEach(r -> out.println("removed " + r));
        out.println(command + ": " + (removed.isEmpty() ? "nothing to clean" : "cleaned"));
        out.flush();
        return 0;
    }
}
