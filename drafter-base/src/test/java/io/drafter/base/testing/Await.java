package io.drafter.base.testing;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Bounded waits for a condition that announces itself by no event: an external process's state, a file's contents, a
 * counter of the code under test. Polls with a backoff (1 ms doubling to 100 ms) and fails with an {@link
 * AssertionError} that names what it waited for. Where the code offers a listener, a future or a latch, wait on that
 * instead.
 *
 * <p>Runs on the calling thread; holds nothing between calls.
 */
public final class Await {
    private static final long FIRST_PAUSE_MS = 1;
    private static final long LONGEST_PAUSE_MS = 100;

    private Await() {}

    /** Waits until {@code condition} holds; fails after {@code timeout}, naming {@code what}. */
    public static void until(Duration timeout, String what, BooleanSupplier condition) throws InterruptedException {
        until(timeout, what, condition, () -> "");
    }

    /**
     * Waits until {@code condition} holds; fails after {@code timeout}, naming {@code what} and adding what {@code
     * detail} says then (a console tail, the last value seen).
     */
    public static void until(Duration timeout, String what, BooleanSupplier condition, Supplier<String> detail)
            throws InterruptedException {
        long deadlineNs = System.nanoTime() + timeout.toNanos();
        long pauseMs = FIRST_PAUSE_MS;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadlineNs > 0) {
                throw failure(timeout, what, detail.get());
            }
            Thread.sleep(pauseMs);
            pauseMs = Math.min(LONGEST_PAUSE_MS, pauseMs * 2);
        }
    }

    /**
     * Returns the first non-null value of {@code probe}; fails after {@code timeout}, naming {@code what}. An exception
     * of {@code probe} ends the wait.
     */
    public static <T> T value(Duration timeout, String what, Callable<T> probe) throws Exception {
        return value(timeout, what, probe, () -> "");
    }

    /**
     * Returns the first non-null value of {@code probe}; fails after {@code timeout}, naming {@code what} and adding
     * what {@code detail} says then. An exception of {@code probe} ends the wait.
     */
    public static <T> T value(Duration timeout, String what, Callable<T> probe, Callable<String> detail)
            throws Exception {
        return value(timeout, Duration.ofMillis(LONGEST_PAUSE_MS), what, probe, detail);
    }

    /**
     * As {@link #value(Duration, String, Callable, Callable)}, with pauses of at most {@code longestPause}: for a
     * probe that costs a process of its own (a client run against a service that is coming up).
     */
    public static <T> T value(
            Duration timeout, Duration longestPause, String what, Callable<T> probe, Callable<String> detail)
            throws Exception {
        long deadlineNs = System.nanoTime() + timeout.toNanos();
        long longestPauseMs = Math.max(FIRST_PAUSE_MS, longestPause.toMillis());
        long pauseMs = FIRST_PAUSE_MS;
        while (true) {
            T v = probe.call();
            if (v != null) {
                return v;
            }
            if (System.nanoTime() - deadlineNs > 0) {
                throw failure(timeout, what, detail.call());
            }
            Thread.sleep(pauseMs);
            pauseMs = Math.min(longestPauseMs, pauseMs * 2);
        }
    }

    private static AssertionError failure(Duration timeout, String what, String detail) {
        return new AssertionError(
                "waited " + timeout + " for " + what + (detail == null || detail.isEmpty() ? "" : "; " + detail));
    }
}
