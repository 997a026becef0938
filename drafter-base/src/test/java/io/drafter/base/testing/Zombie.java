package io.drafter.base.testing;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A real zombie for a test: a process that ended and is not reaped (which {@code ProcessHandle.isAlive} still counts
 * as alive), for 30 s or until {@link #close}. Its parent is a shell that exec'd {@code sleep}, which never reaps; the
 * child ends only once that exec happened, since a child that ends before it may be reaped by the shell itself.
 */
public final class Zombie implements AutoCloseable {
    private static final String SCRIPT =
            "( while c=$(cat /proc/$$/comm 2>/dev/null) && [ \"$c\" != sleep ]; do sleep 0.01;"
                    + " done ) & echo $!; exec sleep 30";

    private final Process parent;
    private final long pid;

    private Zombie(Process parent, long pid) {
        this.parent = parent;
        this.pid = pid;
    }

    /** Starts one and waits (up to 10 s) until the kernel reports it as a zombie. */
    public static Zombie start() throws Exception {
        Process parent = new ProcessBuilder("bash", "-c", SCRIPT).start();
        try {
            long pid;
            try (BufferedReader out =
                    new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.US_ASCII))) {
                pid = Long.parseLong(out.readLine().strip());
            }
            Path stat = Path.of("/proc", Long.toString(pid), "stat");
            Await.value(
                    Duration.ofSeconds(10),
                    "process " + pid + " to be a zombie",
                    () -> Files.readString(stat).matches("(?s).*\\) Z .*") ? true : null,
                    () -> Files.readString(stat));
            return new Zombie(parent, pid);
        } catch (Exception | Error e) {
            parent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw e;
        }
    }

    /** The zombie's PID. */
    public long pid() {
        return pid;
    }

    /** Ends its parent; init then reaps the zombie. */
    @Override
    public void close() throws InterruptedException {
        parent.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
}
