package io.drafter.storage.source;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockMath;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * A device held in off-heap memory, zero-filled at creation.
 *
 * <p><b>Note:</b> thread-safe; reads and writes copy bytes without locks, so concurrent writes to the same bytes
 * may interleave (as on a real disk). The memory is freed by {@link #close()}.
 */
public final class MemoryBlockDevice implements BlockDevice {
    private final String name;
    private final long sizeBytes;
    private final int blockSizeBytes;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment memory;
    private volatile boolean closed;

    public MemoryBlockDevice(String name, long sizeBytes, int blockSizeBytes) {
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("device \"" + name + "\": size must not be negative, got " + sizeBytes);
        }
        this.name = name;
        this.sizeBytes = sizeBytes;
        this.blockSizeBytes = BlockMath.requirePowerOfTwo(blockSizeBytes, "device \"" + name + "\": blockSize");
        this.memory = arena.allocate(Math.max(1, sizeBytes), 4096);
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    @Override
    public int read(ByteBuffer dst, long offsetBytes) throws IOException {
        ensureOpen();
        int n = BlockMath.readableBytes(offsetBytes, dst.remaining(), sizeBytes, describe());
        if (n == 0) {
            return 0;
        }
        MemorySegment.ofBuffer(dst).copyFrom(memory.asSlice(offsetBytes, n));
        dst.position(dst.position() + n);
        return n;
    }

    @Override
    public int write(ByteBuffer src, long offsetBytes) throws IOException {
        ensureOpen();
        int n = src.remaining();
        BlockMath.checkWrite(offsetBytes, n, sizeBytes, describe());
        memory.asSlice(offsetBytes, n).copyFrom(MemorySegment.ofBuffer(src));
        src.position(src.position() + n);
        return n;
    }

    @Override
    public void flush() throws IOException {
        ensureOpen();
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    private void ensureOpen() throws IOException {
        if (closed) {
            throw new IOException(describe() + " is closed");
        }
    }

    private String describe() {
        return "memory device \"" + name + "\"";
    }

    @Override
    public String toString() {
        return describe();
    }
}
