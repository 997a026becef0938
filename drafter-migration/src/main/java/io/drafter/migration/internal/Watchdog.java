package io.drafter.migration.internal;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Fails a session when nothing arrives from the peer for too long: the no-progress watchdog of each engine's state
 * machine. The peer's agent sends PING frames when idle, so only a dead or stalled peer trips it.
 *
 * <p><b>Note:</b> runs one named daemon thread; {@link #stop()} ends it.
 */
public final class Watchdog {
    /** What to do when the peer went quiet for {@code quietNs}. */
    @FunctionalInterface
    public interface Trip {
        void trip(long quietNs);
    }

    private final Thread thread;
    private volatile boolean stopped;

    public Watchdog(String name, Duration timeout, LongSupplier lastActivityNanos, Trip trip) {
        long timeoutNs = timeout.toNanos();
        long periodMs = Math.max(5, timeout.toMillis() / 8);
        this.thread = Thread.ofPlatform().name(name).daemon().unstarted(() -> {
            while (!stopped) {
                try {
                    Thread.sleep(periodMs);
                } catch (InterruptedException e) {
                    return;
                }
                long quiet = System.nanoTime() - lastActivityNanos.getAsLong();
                if (!stopped && quiet > timeoutNs) {
                    stopped = true;
                    trip.trip(quiet);
                }
            }
        });
    }

    public Watchdog start() {
        thread.start();
        return this;
    }

    public void stop() {
        stopped = true;
        thread.interrupt();
    }

    /** How a duration reads in messages: {@code 1.500 s}. */
    public static String seconds(long nanos) {
        return String.format(java.util.Locale.ROOT, "%.3f s", nanos / 1e9);
    }
}
