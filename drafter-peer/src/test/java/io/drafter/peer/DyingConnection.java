package io.drafter.peer;

import io.drafter.migration.transport.Connection;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A connection that dies like a killed process: after {@code limitBytes} have been read through it, the socket is
 * closed under both directions (the peer sees a reset or end of stream, with no goodbye frame).
 */
final class DyingConnection implements Connection {
    private final Connection delegate;
    private final long limitBytes;
    private final AtomicLong read = new AtomicLong();

    DyingConnection(Connection delegate, long limitBytes) {
        this.delegate = delegate;
        this.limitBytes = limitBytes;
    }

    /** Kills the connection now. */
    void die() {
        delegate.close();
    }

    @Override
    public InputStream input() throws IOException {
        return new FilterInputStream(delegate.input()) {
            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (read.get() >= limitBytes) {
                    die();
                    throw new IOException("connection killed after " + read.get() + " bytes");
                }
                int n = super.read(b, off, (int) Math.min(len, limitBytes - read.get()));
                if (n > 0) {
                    read.addAndGet(n);
                }
                return n;
            }
        };
    }

    @Override
    public OutputStream output() throws IOException {
        return delegate.output();
    }

    @Override
    public String peer() {
        return delegate.peer();
    }

    @Override
    public boolean authenticatedTransport() {
        return delegate.authenticatedTransport();
    }

    @Override
    public void shutdownOutput() {
        delegate.shutdownOutput();
    }

    @Override
    public void close() {
        delegate.close();
    }
}
