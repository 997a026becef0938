package io.drafter.migration.destination;

import io.drafter.migration.internal.BlockDecoder;
import io.drafter.migration.protocol.BufferPool;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.util.BitSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One incoming device on the destination: its storage, the {@link WaitingDevice} whose reads wait for missing blocks,
 * the bounded queue of what the reader hands its applier, and how an item is applied.
 *
 * <p>The queue holds the device's credit plus some slack for dirty lists and barriers: a source that sends more data
 * frames than its credit overruns it, which the reader reports as FLOW_CONTROL.
 *
 * <p><b>Note:</b> {@link #offer} is called by the reader, {@link #take} and {@link #apply} by the device's one applier;
 * the counters may be read by anyone.
 */
final class DeviceSink {
    /** Room in the queue beyond the credit, for dirty lists and barriers. */
    static final int CONTROL_SLACK = 4096;

    final int index;
    final DeviceSpec spec;
    final DestinationStorage.Opened opened;
    final WaitingDevice waiting;
    private final BlockDecoder decoder;
    private final BitSet supplied = new BitSet();
    private final LinkedBlockingQueue<ApplyItem> queue;
    private final AtomicLong blocks = new AtomicLong();
    private final AtomicLong zeros = new AtomicLong();
    private final AtomicLong dirty = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    /** The applier thread, once started. */
    volatile Thread applier;
    /** When the applier last reported progress ({@link System#nanoTime()}); the applier's own. */
    long lastProgressNs;

    /**
     * Device {@code index} as the source announced it ({@code spec}), stored on {@code opened}; {@code credit}: how
     * many data frames the source may have outstanding; {@code missing} is told of every read of a block not here.
     */
    DeviceSink(
            int index,
            DeviceSpec spec,
            DestinationStorage.Opened opened,
            int credit,
            WaitingDevice.MissingBlockListener missing) {
        this.index = index;
        this.spec = spec;
        this.opened = opened;
        this.waiting = new WaitingDevice(opened.device(), false, missing);
        this.decoder = new BlockDecoder(spec.blockSizeBytes());
        this.queue = new LinkedBlockingQueue<>(credit + CONTROL_SLACK);
    }

    /** Queues {@code item} for the applier; {@code false} if the queue is full (the source overran its credit). */
    boolean offer(ApplyItem item) {
        return queue.offer(item);
    }

    /** The next item, waiting for one. */
    ApplyItem take() throws InterruptedException {
        return queue.take();
    }

    /** Whether nothing is queued. */
    boolean idle() {
        return queue.isEmpty();
    }

    /**
     * Applies {@code item}: stores a block (and gives its buffer back to {@code pool}), stores zeros or marks them
     * present on zero-filled storage where nothing was stored, marks dirty blocks missing, or counts down a barrier.
     *
     * @return whether it was a data frame, which spends one credit
     * @throws ProtocolException if a block does not decode
     * @throws IOException if the storage fails
     */
    boolean apply(ApplyItem item, BufferPool pool) throws IOException {
        switch (item) {
            case ApplyItem.Block(Frame.BlockData d) -> {
                bytes.addAndGet(d.data().remaining());
                try {
                    waiting.supply(d.block(), decoder.decode(d));
                } finally {
                    pool.give(d.data().array());
                }
                supplied.set((int) d.block());
                blocks.incrementAndGet();
                return true;
            }
            case ApplyItem.Zeros(Frame.ZeroBlocks z) -> {
                for (long b = z.firstBlock(); b < z.firstBlock() + z.count(); b++) {
                    if (opened.zeroFilled() && !supplied.get((int) b)) {
                        waiting.markPresent(b, b + 1);
                    } else {
                        waiting.supply(b, decoder.zeros(spec.blockLength(b)));
                    }
                }
                zeros.addAndGet(z.count());
                return true;
            }
            case ApplyItem.Dirty(Frame.DirtyBlocks x) -> {
                for (long b : x.blocks()) {
                    waiting.markMissing(b);
                }
                dirty.addAndGet(x.blocks().length);
                return false;
            }
            case ApplyItem.Barrier(CountDownLatch applied) -> {
                applied.countDown();
                return false;
            }
        }
    }

    /** BLOCK frames applied. */
    long blocksReceived() {
        return blocks.get();
    }

    /** Blocks applied from ZERO frames. */
    long zeroBlocks() {
        return zeros.get();
    }

    /** Bytes of block data applied, as they came over the link. */
    long dataBytes() {
        return bytes.get();
    }

    /** Blocks marked missing by dirty lists. */
    long dirtyBlocks() {
        return dirty.get();
    }
}
