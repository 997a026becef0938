package io.drafter.storage.dirty;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockMath;
import io.drafter.storage.ForwardingBlockDevice;
import io.drafter.storage.bits.Bitfield;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.concurrent.atomic.LongAdder;

/**
 * A layer that records which blocks were written since the last {@link #collect()}.
 *
 * <p>Tracking starts with {@link #startTracking()}. A write marks its blocks dirty <em>after</em> it reached the
 * device below, so a collector that takes the dirty set and then reads those blocks always reads data at least as new
 * as the writes it was told about; a write that races with a collection shows up in that collection or the next,
 * never in neither. A write that completed before {@code startTracking()} returned is not reported: a copy that
 * starts after that call sees it anyway.
 *
 * <p><b>Note:</b> thread-safe; any number of writers and one collector at a time.
 */
public final class DirtyTrackingDevice extends ForwardingBlockDevice {
    private final Bitfield dirty;
    private final LongAdder markedBlocks = new LongAdder();
    private volatile boolean tracking;

    public DirtyTrackingDevice(BlockDevice delegate) {
        super(delegate);
        this.dirty = new Bitfield(delegate.blockCount());
    }

    /** Starts recording writes, forgetting anything recorded before. */
    public void startTracking() {
        dirty.collectAndClear();
        tracking = true;
    }

    /** Stops recording writes; what was recorded stays until collected. */
    public void stopTracking() {
        tracking = false;
    }

    /** Whether writes are being recorded. */
    public boolean isTracking() {
        return tracking;
    }

    /** Takes the set of blocks written since the last collection and resets it. */
    public BitSet collect() {
        return dirty.collectAndClear();
    }

    /** The number of blocks currently marked dirty (a snapshot). */
    public long dirtyBlockCount() {
        return dirty.count();
    }

    /** Marks blocks dirty from another source of knowledge (e.g. a guest-memory scan). */
    public void markDirty(long fromBlock, long toBlockExclusive) {
        dirty.setRange(fromBlock, toBlockExclusive);
        markedBlocks.add(toBlockExclusive - fromBlock);
    }

    /** The total number of block marks made since creation (a block written twice counts twice). */
    public long markedBlocksTotal() {
        return markedBlocks.sum();
    }

    @Override
    public int write(ByteBuffer src, long offsetBytes) throws IOException {
        int n = delegate.write(src, offsetBytes);
        // Read the flag after the write: see the class comment for why this order loses nothing.
        if (tracking && n > 0) {
            int bs = blockSizeBytes();
            markDirty(BlockMath.firstBlock(offsetBytes, bs), BlockMath.endBlock(offsetBytes, n, bs));
        }
        return n;
    }
}
