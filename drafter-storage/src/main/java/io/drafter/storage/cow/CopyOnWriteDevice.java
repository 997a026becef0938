package io.drafter.storage.cow;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockMath;
import io.drafter.storage.bits.Bitfield;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Copy-on-write over a read-only base: Drafter's {@code base} + {@code overlay} + {@code state} trio.
 *
 * <p>The base is never written. A block, once written, lives whole in the overlay (a partial write first copies the
 * rest of the block from the base) and is recorded in a bitmap that {@link #flush()} persists to the state file (see
 * {@link CowStateFile}) after making the overlay durable. So after a crash, reopening the three files shows exactly
 * the data of the last completed flush (blocks written after it read as before, from overlay or base).
 *
 * <p><b>Note:</b> thread-safe. Writes to blocks already in the overlay take no lock; the first write of a block takes
 * a striped lock so that two partial writers cannot both copy the base block and lose one another's bytes.
 */
public final class CopyOnWriteDevice implements BlockDevice {
    private static final int LOCK_STRIPES = 256;

    private final BlockDevice base;
    private final BlockDevice overlay;
    private final Path statePath;
    private final Bitfield inOverlay;
    private final ReentrantLock[] stripes = new ReentrantLock[LOCK_STRIPES];
    private final ReentrantLock flushLock = new ReentrantLock();
    private final AtomicBoolean closed = new AtomicBoolean();
    private volatile boolean stateChanged;

    private CopyOnWriteDevice(BlockDevice base, BlockDevice overlay, Path statePath, Bitfield inOverlay) {
        this.base = base;
        this.overlay = overlay;
        this.statePath = statePath;
        this.inOverlay = inOverlay;
        for (int i = 0; i < stripes.length; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    /**
     * Stacks {@code overlay} over {@code base}, loading the state file if it exists (else every block is in the base).
     * Both devices must have the same size and block size; the new device owns and closes both.
     */
    public static CopyOnWriteDevice open(BlockDevice base, BlockDevice overlay, Path statePath) throws IOException {
        if (base.sizeBytes() != overlay.sizeBytes() || base.blockSizeBytes() != overlay.blockSizeBytes()) {
            throw new IOException("could not stack overlay " + overlay + " on base " + base + ": sizes differ ("
                    + overlay.sizeBytes() + "/" + overlay.blockSizeBytes() + " vs " + base.sizeBytes() + "/"
                    + base.blockSizeBytes() + " bytes/block)");
        }
        Bitfield bits = new Bitfield(base.blockCount());
        BitSet loaded = CowStateFile.read(statePath, base.blockSizeBytes(), base.blockCount());
        loaded.stream().forEach(bits::set);
        return new CopyOnWriteDevice(base, overlay, statePath, bits);
    }

    /** Whether {@code block} lives in the overlay. */
    public boolean inOverlay(long block) {
        return inOverlay.get(block);
    }

    /** The blocks that live in the overlay (a snapshot). */
    public BitSet overlayBlocks() {
        return inOverlay.snapshot();
    }

    @Override
    public long sizeBytes() {
        return base.sizeBytes();
    }

    @Override
    public int blockSizeBytes() {
        return base.blockSizeBytes();
    }

    @Override
    public int read(ByteBuffer dst, long offsetBytes) throws IOException {
        ensureOpen();
        int n = BlockMath.readableBytes(offsetBytes, dst.remaining(), sizeBytes(), describe());
        if (n == 0) {
            return 0;
        }
        int bs = blockSizeBytes();
        int oldLimit = dst.limit();
        long pos = offsetBytes;
        long end = offsetBytes + n;
        try {
            // Serve runs of consecutive blocks that come from the same side with one read each.
            while (pos < end) {
                long block = pos / bs;
                boolean fromOverlay = inOverlay.get(block);
                long runEnd = (block + 1) * bs;
                while (runEnd < end && inOverlay.get(runEnd / bs) == fromOverlay) {
                    runEnd += bs;
                }
                runEnd = Math.min(runEnd, end);
                dst.limit(dst.position() + (int) (runEnd - pos));
                (fromOverlay ? overlay : base).read(dst, pos);
                pos = runEnd;
            }
        } finally {
            dst.limit(oldLimit);
        }
        return n;
    }

    @Override
    public int write(ByteBuffer src, long offsetBytes) throws IOException {
        ensureOpen();
        int n = src.remaining();
        BlockMath.checkWrite(offsetBytes, n, sizeBytes(), describe());
        int bs = blockSizeBytes();
        long first = BlockMath.firstBlock(offsetBytes, bs);
        long end = BlockMath.endBlock(offsetBytes, n, bs);
        if (allInOverlay(first, end)) {
            overlay.write(src, offsetBytes);
            return n;
        }
        int oldLimit = src.limit();
        long pos = offsetBytes;
        long stop = offsetBytes + n;
        try {
            for (long b = first; b < end; b++) {
                long blockStart = b * bs;
                long pieceEnd = Math.min(stop, blockStart + BlockMath.blockLength(b, sizeBytes(), bs));
                src.limit(src.position() + (int) (pieceEnd - pos));
                writeInBlock(b, src, pos);
                pos = pieceEnd;
            }
        } finally {
            src.limit(oldLimit);
        }
        return n;
    }

    private void writeInBlock(long block, ByteBuffer piece, long offsetBytes) throws IOException {
        if (inOverlay.get(block)) {
            overlay.write(piece, offsetBytes);
            return;
        }
        ReentrantLock lock = stripes[(int) (block % LOCK_STRIPES)];
        lock.lock();
        try {
            if (inOverlay.get(block)) {
                overlay.write(piece, offsetBytes);
                return;
            }
            int bs = blockSizeBytes();
            long blockStart = block * bs;
            int blockLen = BlockMath.blockLength(block, sizeBytes(), bs);
            if (offsetBytes == blockStart && piece.remaining() == blockLen) {
                overlay.write(piece, offsetBytes);
            } else {
                ByteBuffer whole = ByteBuffer.allocate(blockLen);
                base.read(whole, blockStart);
                whole.position((int) (offsetBytes - blockStart));
                whole.put(piece);
                whole.clear();
                overlay.write(whole, blockStart);
            }
            // Recorded only after the data is in the overlay: a reader never sees a half-copied block.
            inOverlay.set(block);
            stateChanged = true;
        } finally {
            lock.unlock();
        }
    }

    private boolean allInOverlay(long first, long end) {
        for (long b = first; b < end; b++) {
            if (!inOverlay.get(b)) {
                return false;
            }
        }
        return true;
    }

    /** Makes the overlay durable, then records which blocks it holds in the state file (atomically replaced). */
    @Override
    public void flush() throws IOException {
        ensureOpen();
        persist();
    }

    private void persist() throws IOException {
        flushLock.lock();
        try {
            boolean changed = stateChanged;
            stateChanged = false;
            BitSet snapshot = inOverlay.snapshot();
            try {
                overlay.flush();
                if (changed) {
                    CowStateFile.write(statePath, blockSizeBytes(), blockCount(), snapshot);
                }
            } catch (IOException | RuntimeException e) {
                stateChanged = true;
                throw e;
            }
        } finally {
            flushLock.unlock();
        }
    }

    /** Persists the state (as {@link #flush()}) and closes overlay and base. Idempotent. */
    @Override
    public void close() throws IOException {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        IOException failure = null;
        try {
            persist();
        } catch (IOException e) {
            failure = e;
        }
        for (BlockDevice d : new BlockDevice[] {overlay, base}) {
            try {
                d.close();
            } catch (IOException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void ensureOpen() throws IOException {
        if (closed.get()) {
            throw new IOException(describe() + " is closed");
        }
    }

    private String describe() {
        return "copy-on-write device (state " + statePath + ")";
    }

    @Override
    public String toString() {
        return describe();
    }
}
