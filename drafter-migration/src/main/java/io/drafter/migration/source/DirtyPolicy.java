package io.drafter.migration.source;

import java.time.Duration;

/**
 * When a device's pre-copy has converged, with Drafter's per-device knobs.
 *
 * <p>After the full copy each round collects the blocks written since the last one and re-sends them. After a round
 * of {@code n} dirty blocks: if {@code n < maxDirtyBlocks} the device has one more consecutive quiet round, else its
 * quiet rounds reset to 0. The device is ready when it had more than {@code minCycles} consecutive quiet rounds, or
 * after {@code maxCycles} rounds in total (forced convergence). Rounds start at least {@code cycleThrottle} apart.
 * {@code maxCycles == 0} means no dirty rounds: the device is ready right after its full copy (Drafter's way to skip
 * pre-copy of a device, e.g. memory). When every device is ready the source is suspended.
 *
 * @param maxDirtyBlocks a round with fewer dirty blocks counts as quiet
 * @param minCycles quiet rounds needed, exclusive
 * @param maxCycles rounds after which the device is ready anyway; 0 = no rounds
 * @param cycleThrottle the least time between the starts of two rounds
 */
public record DirtyPolicy(int maxDirtyBlocks, int minCycles, int maxCycles, Duration cycleThrottle) {
    /** Drafter's defaults: 200 blocks, 5, 20, 500 ms. */
    public static final DirtyPolicy DRAFTER_DEFAULTS = new DirtyPolicy(200, 5, 20, Duration.ofMillis(500));

    /** No pre-copy rounds: suspend right after the full copy. */
    public static final DirtyPolicy NO_ROUNDS = new DirtyPolicy(0, 0, 0, Duration.ZERO);

    public DirtyPolicy {
        if (maxDirtyBlocks < 0 || minCycles < 0 || maxCycles < 0) {
            throw new IllegalArgumentException("dirty policy values must not be negative: maxDirtyBlocks="
                    + maxDirtyBlocks + " minCycles=" + minCycles + " maxCycles=" + maxCycles);
        }
        if (cycleThrottle == null || cycleThrottle.isNegative()) {
            throw new IllegalArgumentException("cycleThrottle must be zero or positive, got " + cycleThrottle);
        }
    }
}
