package io.drafter.migration.protocol;

import java.util.concurrent.ArrayBlockingQueue;

/**
 * Reusable frame buffers of one size, so that a receiver does not allocate (and the JVM zero) a fresh array per data
 * frame. A frame larger than the pool's size gets a fresh array that is never pooled.
 *
 * <p><b>Note:</b> thread-safe: the reader takes, the appliers give back.
 */
public final class BufferPool {
    private final int bufferBytes;
    private final ArrayBlockingQueue<byte[]> free;

    /** A pool of at most {@code capacity} idle buffers of {@code bufferBytes}. */
    public BufferPool(int bufferBytes, int capacity) {
        this.bufferBytes = bufferBytes;
        this.free = new ArrayBlockingQueue<>(Math.max(1, capacity));
    }

    /** A buffer of at least {@code bytes}. */
    public byte[] take(int bytes) {
        if (bytes > bufferBytes) {
            return new byte[bytes];
        }
        byte[] b = free.poll();
        return b != null ? b : new byte[bufferBytes];
    }

    /** Gives {@code buffer} back; buffers of another size are dropped. */
    public void give(byte[] buffer) {
        if (buffer != null && buffer.length == bufferBytes) {
            free.offer(buffer);
        }
    }
}
