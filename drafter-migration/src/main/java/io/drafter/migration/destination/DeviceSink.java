package io.drafter.migration.destination;

import io.drafter.migration.internal.BlockDecoder;
import io.drafter.migration.protocol.BufferPool;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.util.BitSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * One incoming device on the destination: its storage, the {@link WaitingDevice} whose reads wait for missing blocks,
 * the bounded queue of what the reader hands its applier, how an item is applied, and the credit its applier returned
 * for the control agent to send.
 *
 * <p>The queue is bounded three ways, so that no source, however hostile, makes it grow without limit:
 *
 * <ul>
 *   <li>data frames (BLOCK, ZERO) spend credit: more than the credit queued at once means the source overran it, and
 *       {@link #put} refuses the frame (the reader reports FLOW_CONTROL);
 *   <li>the queue holds the credit plus {@link #CONTROL_SLACK} items: dirty lists and barriers spend no credit, so
 *       {@link #put} waits for room instead (the reader stops reading: back-pressure down to the source's socket);
 *   <li>the blocks of the dirty lists queued on every device of a session together stay within one {@link
 *       Semaphore} of {@link #DIRTY_BUDGET_BLOCKS} blocks (a dirty list may be 4 MiB): {@link #put} waits for it too.
 * </ul>
 *
 * <p><b>Note:</b> {@link #put} and {@link #offer} are called by the reader, {@link #take} and {@link #apply} by the
 * device's one applier; {@link #returnCredit} by the applier and {@link #takeCredit} by the agent; the counters may be
 * read by anyone.
 */
final class DeviceSink {
    /** Room in the queue beyond the credit, for dirty lists and barriers. */
    static final int CONTROL_SLACK = 64;

    /** The blocks of the dirty lists a session's devices may have queued together: two of the largest lists. */
    static final int DIRTY_BUDGET_BLOCKS = 2 * FrameCodec.MAX_DIRTY_PER_FRAME;

    /** What {@link #put} did with an item. */
    enum Put {
        QUEUED,
        /** A data frame beyond the credit: the source overran it. */
        OVER_CREDIT,
        /** The session ended while the reader waited for room. */
        STOPPED
    }

    final int index;
    final DeviceSpec spec;
    final DestinationStorage.Opened opened;
    final WaitingDevice waiting;
    private final BlockDecoder decoder;
    private final BitSet supplied = new BitSet();
    private final LinkedBlockingQueue<ApplyItem> queue;
    private final int credit;
    /** Data frames queued: at most the credit. */
    private final AtomicInteger dataQueued = new AtomicInteger();
    /** Blocks of the dirty lists queued, shared by the session's devices. */
    private final Semaphore dirtyBudget;
    /** Credit the applier returned and the agent has not sent yet. */
    private final AtomicInteger creditToSend = new AtomicInteger();

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
        this(index, spec, opened, credit, missing, new Semaphore(DIRTY_BUDGET_BLOCKS));
    }

    /** As above; {@code dirtyBudget}: the permits (blocks) of queued dirty lists, shared by a session's devices. */
    DeviceSink(
            int index,
            DeviceSpec spec,
            DestinationStorage.Opened opened,
            int credit,
            WaitingDevice.MissingBlockListener missing,
            Semaphore dirtyBudget) {
        this.index = index;
        this.spec = spec;
        this.opened = opened;
        this.waiting = new WaitingDevice(opened.device(), false, missing);
        this.decoder = new BlockDecoder(spec.blockSizeBytes());
        this.queue = new LinkedBlockingQueue<>(credit + CONTROL_SLACK);
        this.credit = credit;
        this.dirtyBudget = dirtyBudget;
    }

    /** Queues {@code item} for the applier if there is room, without the accounting of {@link #put}. */
    boolean offer(ApplyItem item) {
        return queue.offer(item);
    }

    /**
     * Queues {@code item} for the applier, in arrival order: a data frame only within the credit; waits for room (and,
     * for a dirty list, for the budget), checking {@code stopped} every 50 ms.
     */
    Put put(ApplyItem item, BooleanSupplier stopped) throws InterruptedException {
        int dirtyBlocks = 0;
        if (spendsCredit(item)) {
            if (dataQueued.incrementAndGet() > credit) {
                dataQueued.decrementAndGet();
                return Put.OVER_CREDIT;
            }
        } else if (item instanceof ApplyItem.Dirty(Frame.DirtyBlocks x)) {
            dirtyBlocks = Math.min(x.blocks().length, DIRTY_BUDGET_BLOCKS);
            while (!dirtyBudget.tryAcquire(dirtyBlocks, 50, TimeUnit.MILLISECONDS)) {
                if (stopped.getAsBoolean()) {
                    return Put.STOPPED;
                }
            }
        }
        while (!queue.offer(item, 50, TimeUnit.MILLISECONDS)) {
            if (stopped.getAsBoolean()) {
                return Put.STOPPED;
            }
        }
        return Put.QUEUED;
    }

    /** The next item, waiting for one; what it held of the credit or the dirty budget is free again. */
    ApplyItem take() throws InterruptedException {
        ApplyItem item = queue.take();
        if (spendsCredit(item)) {
            dataQueued.decrementAndGet();
        } else if (item instanceof ApplyItem.Dirty(Frame.DirtyBlocks x)) {
            dirtyBudget.release(Math.min(x.blocks().length, DIRTY_BUDGET_BLOCKS));
        }
        return item;
    }

    private static boolean spendsCredit(ApplyItem item) {
        return item instanceof ApplyItem.Block || item instanceof ApplyItem.Zeros;
    }

    /** The applier returns {@code frames} of credit; the agent sends it. */
    void returnCredit(int frames) {
        creditToSend.addAndGet(frames);
    }

    /** The credit to send now (a CREDIT frame), or 0; called by the agent. */
    int takeCredit() {
        return creditToSend.getAndSet(0);
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
