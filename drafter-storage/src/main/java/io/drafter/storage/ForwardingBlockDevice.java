package io.drafter.storage;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A layer that passes every call to the device below it; subclasses override what their feature changes.
 *
 * <p><b>Note:</b> as thread-safe as the subclass makes it; the forwarding itself holds no state.
 */
public abstract class ForwardingBlockDevice implements BlockDevice {
    /** The device this layer wraps. */
    protected final BlockDevice delegate;

    protected ForwardingBlockDevice(BlockDevice delegate) {
        this.delegate = java.util.Objects.requireNonNull(delegate, "delegate");
    }

    /** The device this layer wraps. */
    public BlockDevice delegate() {
        return delegate;
    }

    @Override
    public long sizeBytes() {
        return delegate.sizeBytes();
    }

    @Override
    public int blockSizeBytes() {
        return delegate.blockSizeBytes();
    }

    @Override
    public int read(ByteBuffer dst, long offsetBytes) throws IOException {
        return delegate.read(dst, offsetBytes);
    }

    @Override
    public int write(ByteBuffer src, long offsetBytes) throws IOException {
        return delegate.write(src, offsetBytes);
    }

    @Override
    public void flush() throws IOException {
        delegate.flush();
    }

    @Override
    public void close() throws IOException {
        delegate.close();
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "(" + delegate + ")";
    }
}
