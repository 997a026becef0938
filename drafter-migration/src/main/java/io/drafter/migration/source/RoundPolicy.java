package io.drafter.migration.source;

/**
 * One device's dirty rounds under Drafter's rules ({@link DirtyPolicy}): when the next round is due, and when the
 * device has converged ("ready"). A round starts when the previous one has been sent and the throttle has passed; once
 * it is sent it is evaluated: a device is ready after more than {@code minCycles} rounds in a row below {@code
 * maxDirtyBlocks} blocks, or after {@code maxCycles} rounds, or at once when {@code maxCycles} is zero.
 *
 * <p>Pure: the caller passes the time and says when a round has been sent.
 *
 * <p><b>Note:</b> not thread-safe; the source's agent thread owns it.
 */
final class RoundPolicy {
    private final DirtyPolicy policy;
    private int round;
    private int evaluated;
    private int belowInARow;
    private int lastRoundSize;
    private boolean outstanding;
    private boolean ready;
    private long nextDueNs;

    RoundPolicy(DirtyPolicy policy) {
        this.policy = policy;
    }

    /**
     * Before the first round: a policy without rounds ({@code maxCycles} zero) is ready at once.
     *
     * @return whether the device became ready
     */
    boolean begin() {
        return policy.maxCycles() == 0 && markReady();
    }

    /** Whether the device has converged: no more rounds until the final one. */
    boolean ready() {
        return ready;
    }

    /** Whether a round was started and has not been {@linkplain #roundSent evaluated}. */
    boolean roundOutstanding() {
        return outstanding;
    }

    /** Whether the next round may start at {@code nowNs} (none outstanding, and the throttle passed). */
    boolean due(long nowNs) {
        return !ready && !outstanding && nowNs >= nextDueNs;
    }

    /** When the next round may start, in {@link System#nanoTime()} terms. */
    long nextDueNs() {
        return nextDueNs;
    }

    /**
     * Starts a round of {@code dirtyBlocks} blocks at {@code nowNs}.
     *
     * @return the round's number, from 1
     */
    int startRound(long nowNs, int dirtyBlocks) {
        round++;
        lastRoundSize = dirtyBlocks;
        outstanding = true;
        nextDueNs = nowNs + policy.cycleThrottle().toNanos();
        return round;
    }

    /**
     * The outstanding round has been sent: evaluates it.
     *
     * @return whether the device became ready
     */
    boolean roundSent() {
        outstanding = false;
        evaluated++;
        boolean became = false;
        if (lastRoundSize < policy.maxDirtyBlocks()) {
            belowInARow++;
            if (belowInARow > policy.minCycles()) {
                became = markReady();
            }
        } else {
            belowInARow = 0;
        }
        if (evaluated >= policy.maxCycles()) {
            became |= markReady();
        }
        return became;
    }

    /**
     * The final round, with the writers suspended: it is not evaluated.
     *
     * @return its number
     */
    int finalRound() {
        return ++round;
    }

    /** The rounds evaluated so far. */
    int cycles() {
        return evaluated;
    }

    private boolean markReady() {
        if (ready) {
            return false;
        }
        ready = true;
        return true;
    }
}
