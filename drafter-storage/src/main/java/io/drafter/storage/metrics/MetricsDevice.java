package io.drafter.storage.metrics;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.ForwardingBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;

/**
 * A layer that counts the operations and bytes that pass through it.
 *
 * <p><b>Note:</b> thread-safe; counters are {@link LongAdder}s, so counting costs no contention on the hot path.
 */
public final class MetricsDevice extends ForwardingBlockDevice {
    /** A consistent-enough snapshot of the counters (each counter is read once). */
    public record Snapshot(
            long reads, long readBytes, long writes, long writeBytes, long flushes, long errors, long busyNs) {}

    private final LongAdder reads = new LongAdder();
    private final LongAdder readBytes = new LongAdder();
    private final LongAdder writes = new LongAdder();
    private final LongAdder writeBytes = new LongAdder();
    private final LongAdder flushes = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final LongAdder busyNs = new LongAdder();

    public MetricsDevice(BlockDevice delegate) {
        super(delegate);
    }

    @Override
    public int read(ByteBuffer dst, long offsetBytes) throws IOException {
        long start = System.nanoTime();
        try {
            int n = delegate.read(dst, offsetBytes);
            reads.increment();
            readBytes.add(n);
            return n;
        } catch (IOException | RuntimeException e) {
            errors.increment();
            throw e;
        } finally {
            busyNs.add(System.nanoTime() - start);
        }
    }

    @Override
    public int write(ByteBuffer src, long offsetBytes) throws IOException {
        long start = System.nanoTime();
        try {
            int n = delegate.write(src, offsetBytes);
            writes.increment();
            writeBytes.add(n);
            return n;
        } catch (IOException | RuntimeException e) {
            errors.increment();
            throw e;
        } finally {
            busyNs.add(System.nanoTime() - start);
        }
    }

    @Override
    public void flush() throws IOException {
        try {
            delegate.flush();
            flushes.increment();
        } catch (IOException | RuntimeException e) {
            errors.increment();
            throw e;
        }
    }

    /** The counters now. */
    public Snapshot snapshot() {
        return new Snapshot(
                reads.sum(),
                readBytes.sum(),
                writes.sum(),
                writeBytes.sum(),
                flushes.sum(),
                errors.sum(),
                busyNs.sum());
    }
}
