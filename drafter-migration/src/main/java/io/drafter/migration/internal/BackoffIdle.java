package io.drafter.migration.internal;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * What a duty-cycle thread does when a cycle found nothing to do: spin a little (work often comes back within
 * microseconds: a credit, the next NEED), then yield, then park until its next deadline or until a producer unparks it
 * (the engines' inboxes do on every offer). A cycle that did work resets it. Parks are capped so that a lost wake
 * costs at most {@link #MAX_PARK_NS}.
 *
 * <p><b>Note:</b> not thread-safe; one per duty-cycle thread.
 */
public final class BackoffIdle {
    /** The longest single park. */
    public static final long MAX_PARK_NS = TimeUnit.MILLISECONDS.toNanos(50);

    private final int spins;
    private final int yields;
    private int idleCycles;

    /** Spins {@code spins} idle cycles, yields the next {@code yields}, then parks. */
    public BackoffIdle(int spins, int yields) {
        if (spins < 0 || yields < 0) {
            throw new IllegalArgumentException("could not make an idle strategy: negative spins or yields");
        }
        this.spins = spins;
        this.yields = yields;
    }

    /** A cycle did work: the next idle cycle spins again. */
    public void reset() {
        idleCycles = 0;
    }

    /**
     * A cycle did no work: spin, yield or park until {@code deadlineNs} ({@link System#nanoTime()} terms), an unpark,
     * or {@link #MAX_PARK_NS}, whichever comes first.
     *
     * @return what it did
     */
    public Action idle(long deadlineNs) {
        if (idleCycles < spins) {
            idleCycles++;
            Thread.onSpinWait();
            return Action.SPIN;
        }
        if (idleCycles < spins + yields) {
            idleCycles++;
            Thread.yield();
            return Action.YIELD;
        }
        long waitNs = Math.min(deadlineNs - System.nanoTime(), MAX_PARK_NS);
        if (waitNs <= 0) {
            return Action.NONE;
        }
        LockSupport.parkNanos(this, waitNs);
        return Action.PARK;
    }

    /** What one idle cycle did. */
    public enum Action {
        /** Busy-waited once. */
        SPIN,
        /** Gave the core away once. */
        YIELD,
        /** Parked (until the deadline, an unpark or the cap). */
        PARK,
        /** Nothing: the deadline has passed. */
        NONE
    }
}
