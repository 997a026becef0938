package io.drafter.expose.fuse;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockMath;
import io.drafter.storage.ForwardingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Device layers the FUSE tests observe the kernel through; each wraps a real device. */
final class TestDevices {
    private TestDevices() {}

    /** Whether {@code [offsetBytes, offsetBytes + lengthBytes)} of {@code device} touches block {@code block}. */
    static boolean touches(BlockDevice device, long offsetBytes, int lengthBytes, long block) {
        int bs = device.blockSizeBytes();
        return block >= BlockMath.firstBlock(offsetBytes, bs)
                && block < BlockMath.endBlock(offsetBytes, lengthBytes, bs);
    }

    /** Records which blocks were written and how often the device was flushed. */
    static final class Recording extends ForwardingBlockDevice {
        final Set<Long> writtenBlocks = new ConcurrentSkipListSet<>();
        final AtomicInteger flushes = new AtomicInteger();

        Recording(BlockDevice delegate) {
            super(delegate);
        }

        @Override
        public int write(ByteBuffer src, long offsetBytes) throws IOException {
            int bs = blockSizeBytes();
            long end = BlockMath.endBlock(offsetBytes, src.remaining(), bs);
            for (long b = BlockMath.firstBlock(offsetBytes, bs); b < end; b++) {
                writtenBlocks.add(b);
            }
            return super.write(src, offsetBytes);
        }

        @Override
        public void flush() throws IOException {
            flushes.incrementAndGet();
            super.flush();
        }
    }

    /**
     * A device whose reads touching any of {@code gatedBlocks} wait until {@link #supply()} is called, as reads of
     * post-copy blocks that have not arrived yet do.
     */
    static final class Gated extends ForwardingBlockDevice {
        final long[] gatedBlocks;
        final java.util.concurrent.Semaphore waiting = new java.util.concurrent.Semaphore(0);
        final CountDownLatch supplied = new CountDownLatch(1);

        Gated(BlockDevice delegate, long... gatedBlocks) {
            super(delegate);
            this.gatedBlocks = gatedBlocks.clone();
        }

        void supply() {
            supplied.countDown();
        }

        /** Waits until {@code reads} reads are waiting for gated blocks. */
        boolean awaitWaiting(int reads) throws InterruptedException {
            return waiting.tryAcquire(reads, 30, TimeUnit.SECONDS);
        }

        @Override
        public int read(ByteBuffer dst, long offsetBytes) throws IOException {
            for (long gated : gatedBlocks) {
                if (touches(this, offsetBytes, dst.remaining(), gated) && supplied.getCount() > 0) {
                    waiting.release();
                    try {
                        if (!supplied.await(60, TimeUnit.SECONDS)) {
                            throw new IOException("gated block " + gated + " was never supplied");
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IOException("interrupted waiting for block " + gated, e);
                    }
                    break;
                }
            }
            return super.read(dst, offsetBytes);
        }
    }

    /** A device whose reads touching {@code badBlock} throw {@code failure}. */
    static final class Failing extends ForwardingBlockDevice {
        final long badBlock;
        final boolean unchecked;

        Failing(BlockDevice delegate, long badBlock, boolean unchecked) {
            super(delegate);
            this.badBlock = badBlock;
            this.unchecked = unchecked;
        }

        @Override
        public int read(ByteBuffer dst, long offsetBytes) throws IOException {
            if (touches(this, offsetBytes, dst.remaining(), badBlock)) {
                if (unchecked) {
                    throw new IllegalStateException("injected failure reading block " + badBlock);
                }
                throw new IOException("could not read block " + badBlock + ": injected failure");
            }
            return super.read(dst, offsetBytes);
        }
    }
}
