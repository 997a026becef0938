package io.drafter.storage;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A named-by-its-owner, fixed-size, block-addressed array of bytes: the unit everything a VM is made of.
 *
 * <p>Reads and writes address bytes; the block size is the granularity at which layers above track, copy
 * and migrate data. Every feature (copy-on-write, dirty tracking, volatility, post-copy waiting, metrics)
 * is a small layer that wraps another {@code BlockDevice}, see {@link ForwardingBlockDevice}.
 *
 * <p><b>Note:</b> implementations are thread-safe: any number of threads may read and write concurrently.
 * Concurrent writes to the same bytes land in an unspecified order. {@link #close()} is idempotent.
 */
public interface BlockDevice extends Closeable {

    /** The size of the device in bytes; it never changes. */
    long sizeBytes();

    /** The block size in bytes, a power of two. */
    int blockSizeBytes();

    /**
     * Reads bytes starting at {@code offsetBytes} into {@code dst}, filling it completely unless the end of the
     * device is reached first.
     *
     * @return the number of bytes read, {@code 0} when {@code offsetBytes} is at or past the end of the device
     * @throws IOException if the bytes could not be read; the message names the device and the range
     */
    int read(ByteBuffer dst, long offsetBytes) throws IOException;

    /**
     * Writes all remaining bytes of {@code src} starting at {@code offsetBytes}.
     *
     * @return the number of bytes written, always {@code src.remaining()} on entry
     * @throws IOException if the range is outside the device or the bytes could not be written
     */
    int write(ByteBuffer src, long offsetBytes) throws IOException;

    /** Makes every write that completed before this call durable (or visible to the layer below). */
    void flush() throws IOException;

    /** The number of blocks, the last one possibly shorter than {@link #blockSizeBytes()}. */
    default long blockCount() {
        return BlockMath.blockCount(sizeBytes(), blockSizeBytes());
    }

    /** Closes the device; later reads and writes fail. Idempotent. */
    @Override
    void close() throws IOException;
}
