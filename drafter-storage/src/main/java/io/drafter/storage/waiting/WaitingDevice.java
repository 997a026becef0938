package io.drafter.storage.waiting;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockMath;
import io.drafter.storage.ForwardingBlockDevice;
import io.drafter.storage.bits.Bitfield;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The destination side of post-copy: a layer whose reads of blocks that have not arrived yet wait until they do.
 *
 * <p>Blocks are either <em>present</em> (readable now) or missing. Migration data enters through {@link
 * #supply(long, ByteBuffer)}; the consumer (the resumed VM) reads and writes through the ordinary {@link BlockDevice}
 * methods. A read of a missing block tells the {@link MissingBlockListener} once per wait (so the source can send
 * that block first) and waits; reads of present blocks never wait. A consumer write covering a whole block makes it
 * present and wins over any older copy that arrives later; a partial write of a missing block first waits for it.
 * {@link #fail(IOException)} wakes every waiter with that error and makes later waits fail at once.
 *
 * <p><b>Note:</b> thread-safe. The listener is called on the reading thread and must not block.
 */
public final class WaitingDevice extends ForwardingBlockDevice {
    /** Told when a reader starts waiting for a block, so that it can be fetched first. */
    @FunctionalInterface
    public interface MissingBlockListener {
        void onMissing(long block);
    }

    private static final int LOCK_STRIPES = 256;

    private final Bitfield present;
    private final Bitfield writtenLocally;
    private final ConcurrentHashMap<Long, CompletableFuture<Void>> waiters = new ConcurrentHashMap<>();
    private final ReentrantLock[] stripes = new ReentrantLock[LOCK_STRIPES];
    private final MissingBlockListener listener;
    private final LongAdder waits = new LongAdder();
    private final LongAdder waitNs = new LongAdder();
    private volatile IOException failure;

    /**
     * Wraps {@code delegate} with every block missing ({@code allPresent=false}) or present.
     *
     * @param listener told about each block a reader starts waiting for
     */
    public WaitingDevice(BlockDevice delegate, boolean allPresent, MissingBlockListener listener) {
        super(delegate);
        this.listener = listener == null ? _ -> {} : listener;
        long blocks = delegate.blockCount();
        this.present = new Bitfield(blocks);
        this.writtenLocally = new Bitfield(blocks);
        if (allPresent) {
            present.setRange(0, blocks);
        }
        for (int i = 0; i < stripes.length; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    /** Whether {@code block} can be read without waiting. */
    public boolean isPresent(long block) {
        return present.get(block);
    }

    /** The number of present blocks. */
    public long presentBlockCount() {
        return present.count();
    }

    /** Whether every block is present. */
    public boolean isComplete() {
        return present.count() == blockCount();
    }

    /** The number of reads that had to wait, and their total wait time in nanoseconds. */
    public long waitCount() {
        return waits.sum();
    }

    public long waitNanos() {
        return waitNs.sum();
    }

    /**
     * Stores a copy of {@code block} that came from the source and makes it present, unless the consumer has written
     * the whole block since (its data is newer). {@code data} holds the block's bytes (the last block may be short).
     *
     * @return {@code true} if the data was stored
     */
    public boolean supply(long block, ByteBuffer data) throws IOException {
        int bs = blockSizeBytes();
        int expected = BlockMath.blockLength(block, sizeBytes(), bs);
        if (data.remaining() != expected) {
            throw new IOException("could not store block " + block + " of " + delegate + ": got " + data.remaining()
                    + " bytes, the block holds " + expected);
        }
        ReentrantLock lock = stripe(block);
        lock.lock();
        try {
            if (writtenLocally.get(block)) {
                return false;
            }
            delegate.write(data, block * (long) bs);
            markPresent(block);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Marks blocks present without data (e.g. the destination already holds them, or they are known zeros). */
    public void markPresent(long fromBlock, long toBlockExclusive) {
        for (long b = fromBlock; b < toBlockExclusive; b++) {
            markPresent(b);
        }
    }

    /**
     * Marks a block missing again because a newer copy is on its way (a block dirtied at the source after it was
     * sent). Blocks the consumer wrote itself stay present.
     */
    public void markMissing(long block) {
        ReentrantLock lock = stripe(block);
        lock.lock();
        try {
            if (!writtenLocally.get(block)) {
                present.clear(block);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Fails every current and future wait with {@code cause}; present blocks stay readable. */
    public void fail(IOException cause) {
        failure = cause;
        for (var f : waiters.values()) {
            f.completeExceptionally(cause);
        }
        waiters.clear();
    }

    @Override
    public int read(ByteBuffer dst, long offsetBytes) throws IOException {
        int n = BlockMath.readableBytes(offsetBytes, dst.remaining(), sizeBytes(), delegate.toString());
        if (n > 0) {
            int bs = blockSizeBytes();
            long end = BlockMath.endBlock(offsetBytes, n, bs);
            for (long b = BlockMath.firstBlock(offsetBytes, bs); b < end; b++) {
                awaitPresent(b);
            }
        }
        return delegate.read(dst, offsetBytes);
    }

    @Override
    public int write(ByteBuffer src, long offsetBytes) throws IOException {
        int len = src.remaining();
        BlockMath.checkWrite(offsetBytes, len, sizeBytes(), delegate.toString());
        if (len == 0) {
            return 0;
        }
        int bs = blockSizeBytes();
        long first = BlockMath.firstBlock(offsetBytes, bs);
        long end = BlockMath.endBlock(offsetBytes, len, bs);
        // A partial block is merged with what lies around it, so that must be here first.
        if (!coversWholeBlock(first, offsetBytes, len)) {
            awaitPresent(first);
        }
        if (end - 1 != first && !coversWholeBlock(end - 1, offsetBytes, len)) {
            awaitPresent(end - 1);
        }
        ReentrantLock[] locks = locksFor(first, end);
        for (ReentrantLock l : locks) {
            l.lock();
        }
        try {
            int n = delegate.write(src, offsetBytes);
            for (long b = first; b < end; b++) {
                writtenLocally.set(b);
                markPresent(b);
            }
            return n;
        } finally {
            for (int i = locks.length - 1; i >= 0; i--) {
                locks[i].unlock();
            }
        }
    }

    private boolean coversWholeBlock(long block, long offsetBytes, int len) {
        int bs = blockSizeBytes();
        long start = block * bs;
        long stop = start + BlockMath.blockLength(block, sizeBytes(), bs);
        return offsetBytes <= start && offsetBytes + len >= stop;
    }

    private void awaitPresent(long block) throws IOException {
        if (present.get(block)) {
            return;
        }
        IOException failed = failure;
        if (failed != null) {
            throw new IOException(
                    "could not read block " + block + " of " + delegate + ": " + failed.getMessage(), failed);
        }
        CompletableFuture<Void> mine = new CompletableFuture<>();
        CompletableFuture<Void> waiter = waiters.putIfAbsent(block, mine);
        boolean first = waiter == null;
        if (first) {
            waiter = mine;
        }
        // Re-check after registering: a block made present in between would never complete the future.
        if (present.get(block)) {
            waiters.remove(block, waiter);
            waiter.complete(null);
            return;
        }
        if (failure != null) {
            waiter.completeExceptionally(failure);
        }
        if (first) {
            listener.onMissing(block);
        }
        long startNs = System.nanoTime();
        waits.increment();
        try {
            waiter.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for block " + block + " of " + delegate);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw new IOException(
                    "could not read block " + block + " of " + delegate + ": " + cause.getMessage(), cause);
        } finally {
            waitNs.add(System.nanoTime() - startNs);
        }
    }

    private void markPresent(long block) {
        present.set(block);
        CompletableFuture<Void> waiter = waiters.remove(block);
        if (waiter != null) {
            waiter.complete(null);
        }
    }

    private ReentrantLock stripe(long block) {
        return stripes[(int) (block % LOCK_STRIPES)];
    }

    /** The stripe locks for blocks {@code [first, end)}, each once, in stripe order (so two writers never deadlock). */
    private ReentrantLock[] locksFor(long first, long end) {
        if (end - first >= LOCK_STRIPES) {
            return stripes.clone();
        }
        int a = (int) (first % LOCK_STRIPES);
        int count = (int) (end - first);
        ReentrantLock[] out = new ReentrantLock[count];
        int[] idx = new int[count];
        for (int i = 0; i < count; i++) {
            idx[i] = (a + i) % LOCK_STRIPES;
        }
        java.util.Arrays.sort(idx);
        for (int i = 0; i < count; i++) {
            out[i] = stripes[idx[i]];
        }
        return out;
    }
}
