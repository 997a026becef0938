package io.drafter.vm.agent;

/**
 * At most {@code perSecond} log messages in each one-second window; the rest are counted, and the count is handed to
 * the next message that may be logged, so that a flood shows up as one number instead of as a flood.
 *
 * <p><b>Note:</b> thread-safe.
 */
final class LogLimiter {
    private static final long WINDOW_NS = 1_000_000_000L;

    private final int perSecond;
    private long windowStartNs;
    private int inWindow;
    private long suppressed;
    private long suppressedTotal;

    LogLimiter(int perSecond) {
        this.perSecond = perSecond;
    }

    /**
     * Whether a message may be logged at {@code nowNs}: -1 if not (it is counted as suppressed), else how many were
     * suppressed since the last one that was logged (to mention in it).
     */
    synchronized long tryAcquire(long nowNs) {
        if (inWindow == 0 || nowNs - windowStartNs >= WINDOW_NS) {
            windowStartNs = nowNs;
            inWindow = 0;
        }
        if (inWindow >= perSecond) {
            suppressed++;
            suppressedTotal++;
            return -1;
        }
        inWindow++;
        long s = suppressed;
        suppressed = 0;
        return s;
    }

    /** The messages suppressed since the last one logged, which are then counted as reported. */
    synchronized long drainSuppressed() {
        long s = suppressed;
        suppressed = 0;
        return s;
    }

    /** Messages suppressed so far, in all. */
    synchronized long suppressedTotal() {
        return suppressedTotal;
    }
}
