package io.drafter.migration.destination;

import java.util.concurrent.locks.LockSupport;

/**
 * How the control agent waits after a duty cycle that found nothing to do: a few spins, then a few yields, then it
 * parks until a producer wakes it ({@link LockSupport#unpark}) or the deadline passes (Agrona's backoff idle strategy,
 * reduced to what the agent needs). Work found resets it.
 *
 * <p><b>Note:</b> not thread-safe: one per agent thread.
 */
final class IdleStrategy {
    /** What one call of {@link #idle} did. */
    enum Step {
        SPIN,
        YIELD,
        PARK
    }

    private final int maxSpins;
    private final int maxYields;
    private int spins;
    private int yields;

    /** Spins {@code maxSpins} times, then yields {@code maxYields} times, before each park. */
    IdleStrategy(int maxSpins, int maxYields) {
        if (maxSpins < 0 || maxYields < 0) {
            throw new IllegalArgumentException("spins and yields must not be negative");
        }
        this.maxSpins = maxSpins;
        this.maxYields = maxYields;
    }

    /** Idles once; a park lasts at most until {@code deadlineNs} ({@link System#nanoTime()}). */
    Step idle(long deadlineNs) {
        if (spins < maxSpins) {
            spins++;
            Thread.onSpinWait();
            return Step.SPIN;
        }
        if (yields < maxYields) {
            yields++;
            Thread.yield();
            return Step.YIELD;
        }
        long waitNs = deadlineNs - System.nanoTime();
        if (waitNs > 0) {
            LockSupport.parkNanos(this, waitNs);
        }
        return Step.PARK;
    }

    /** The duty cycle did work: the next idle starts with spinning again. */
    void reset() {
        spins = 0;
        yields = 0;
    }
}
