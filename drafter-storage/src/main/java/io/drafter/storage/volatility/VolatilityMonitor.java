package io.drafter.storage.volatility;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockMath;
import io.drafter.storage.ForwardingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * A layer that counts writes per block over a sliding time window, so that migration can send the blocks least
 * likely to change again first (they are the least likely to need sending twice).
 *
 * <p>The window is split into {@value #SLOTS} slots; a slot older than the window is reset before it is reused, so a
 * count covers between {@code (SLOTS-1)/SLOTS} of the window and the whole window.
 *
 * <p><b>Note:</b> thread-safe; counting is lock-free, slot reuse takes a short lock once per slot period.
 */
public final class VolatilityMonitor extends ForwardingBlockDevice {
    static final int SLOTS = 4;

    private final long slotNs;
    private final LongSupplier nanoClock;
    private final AtomicIntegerArray counts; // [slot * blocks + block]
    private final AtomicLongArray slotEpoch = new AtomicLongArray(SLOTS);
    private final int blocks;

    public VolatilityMonitor(BlockDevice delegate, Duration window) {
        this(delegate, window, System::nanoTime);
    }

    /** As {@link #VolatilityMonitor(BlockDevice, Duration)} with a clock for tests. */
    public VolatilityMonitor(BlockDevice delegate, Duration window, LongSupplier nanoClock) {
        super(delegate);
        if (window.isNegative() || window.isZero()) {
            throw new IllegalArgumentException("volatility window must be positive, got " + window);
        }
        long count = delegate.blockCount();
        if (count * SLOTS > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("device too large to monitor: " + count + " blocks");
        }
        this.blocks = (int) count;
        this.slotNs = Math.max(1, window.toNanos() / SLOTS);
        this.nanoClock = nanoClock;
        this.counts = new AtomicIntegerArray(blocks * SLOTS);
        long epoch = currentEpoch();
        for (int s = 0; s < SLOTS; s++) {
            slotEpoch.set((int) Math.floorMod(epoch - s, SLOTS), epoch - s);
        }
    }

    @Override
    public int write(ByteBuffer src, long offsetBytes) throws IOException {
        int n = delegate.write(src, offsetBytes);
        if (n > 0) {
            int bs = blockSizeBytes();
            record(BlockMath.firstBlock(offsetBytes, bs), BlockMath.endBlock(offsetBytes, n, bs));
        }
        return n;
    }

    /** Counts one write to each block of {@code [fromBlock, toBlockExclusive)}. */
    public void record(long fromBlock, long toBlockExclusive) {
        int slot = slotFor(currentEpoch());
        int base = slot * blocks;
        for (long b = fromBlock; b < toBlockExclusive; b++) {
            counts.incrementAndGet(base + (int) b);
        }
    }

    /** The number of writes to {@code block} within the window. */
    public int writesInWindow(long block) {
        long epoch = currentEpoch();
        int sum = 0;
        for (int s = 0; s < SLOTS; s++) {
            if (epoch - slotEpoch.get(s) < SLOTS) {
                sum += counts.get(s * blocks + (int) block);
            }
        }
        return sum;
    }

    /** Every block index, least written within the window first; ties in ascending block order. */
    public long[] leastVolatileFirst() {
        long epoch = currentEpoch();
        boolean[] live = new boolean[SLOTS];
        for (int s = 0; s < SLOTS; s++) {
            live[s] = epoch - slotEpoch.get(s) < SLOTS;
        }
        // Pack (count, block) into one long so one primitive sort orders by count, then block.
        long[] keyed = new long[blocks];
        for (int b = 0; b < blocks; b++) {
            long sum = 0;
            for (int s = 0; s < SLOTS; s++) {
                if (live[s]) {
                    sum += counts.get(s * blocks + b);
                }
            }
            keyed[b] = (Math.min(sum, Integer.MAX_VALUE) << 32) | b;
        }
        Arrays.sort(keyed);
        for (int i = 0; i < blocks; i++) {
            keyed[i] &= 0xFFFF_FFFFL;
        }
        return keyed;
    }

    private long currentEpoch() {
        return Math.floorDiv(nanoClock.getAsLong(), slotNs);
    }

    /** The slot for {@code epoch}, cleared first if it still holds counts of an epoch that left the window. */
    private int slotFor(long epoch) {
        int slot = (int) Math.floorMod(epoch, SLOTS);
        if (slotEpoch.get(slot) != epoch) {
            synchronized (this) {
                if (slotEpoch.get(slot) != epoch) {
                    int base = slot * blocks;
                    for (int b = 0; b < blocks; b++) {
                        counts.set(base + b, 0);
                    }
                    slotEpoch.set(slot, epoch);
                }
            }
        }
        return slot;
    }
}
