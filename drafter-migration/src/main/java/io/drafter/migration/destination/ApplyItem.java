package io.drafter.migration.destination;

import io.drafter.migration.protocol.Frame;
import java.util.concurrent.CountDownLatch;

/** What the reader hands one device's applier, in arrival order: data to store, blocks to forget, or a barrier. */
sealed interface ApplyItem {
    /** A block's data (raw or compressed): store it. Spends one credit. */
    record Block(Frame.BlockData frame) implements ApplyItem {}

    /** A run of zero blocks: store zeros (or mark them present on zero-filled storage). Spends one credit. */
    record Zeros(Frame.ZeroBlocks frame) implements ApplyItem {}

    /** A dirty list: these blocks changed at the source since they were sent; mark them missing. */
    record Dirty(Frame.DirtyBlocks frame) implements ApplyItem {}

    /** Counted down once everything queued before it is applied. */
    record Barrier(CountDownLatch applied) implements ApplyItem {}
}
