package io.drafter.migration.source;

import io.drafter.migration.protocol.FrameAdapter;
import io.drafter.migration.protocol.FrameProxy;
import io.drafter.migration.transport.Connection;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A destination that a {@link MigrationListener} has authenticated (HELLO, HELLO_REPLY and both token proofs are
 * done): {@link MigrationSource#start(AuthenticatedDestination, java.util.List, SourceOptions, SuspendHook,
 * SourceListener)} continues its session from the device group on.
 *
 * <p>While it is open it holds one of the listener's sessions ({@link MigrationListener.Limits#maxSessions()}; a peer
 * has one, and turns every other destination away with BUSY meanwhile). The source engine closes it when the migration
 * ends, success or failure; a caller that does not start a migration on it closes it itself. Either frees the session
 * for the next destination.
 *
 * <p><b>Note:</b> thread-safe; {@link #close()} is idempotent.
 */
public final class AuthenticatedDestination implements Closeable {
    private final Session connection;
    private final FrameAdapter in;
    private final FrameProxy out;
    private final boolean zstd;
    private final boolean copyOnly;
    private final boolean serveOnly;

    AuthenticatedDestination(
            Connection connection,
            FrameAdapter in,
            FrameProxy out,
            boolean zstd,
            boolean copyOnly,
            boolean serveOnly,
            Consumer<AuthenticatedDestination> onClose) {
        this.connection = new Session(connection, onClose);
        this.in = in;
        this.out = out;
        this.zstd = zstd;
        this.copyOnly = copyOnly;
        this.serveOnly = serveOnly;
    }

    /** The destination, for messages (e.g. {@code 10.0.0.7:40112}). */
    public String peer() {
        return connection.peer();
    }

    /** Whether the connection is TLS with a client certificate the listener trusts. */
    public boolean authenticatedTransport() {
        return connection.authenticatedTransport();
    }

    /** Whether the session is still open (the listener is busy with it). */
    public boolean isOpen() {
        return !connection.closed.get();
    }

    /** Closes the connection and frees the listener for the next destination. */
    @Override
    public void close() {
        connection.close();
    }

    Connection connection() {
        return connection;
    }

    FrameAdapter in() {
        return in;
    }

    FrameProxy out() {
        return out;
    }

    /**
     * Whether the destination only keeps a copy and never runs it (a live backup): the source's writers resume once
     * the GRANT is written, and the source keeps the devices.
     */
    public boolean copyOnly() {
        return copyOnly;
    }

    /** Whether the listener announced a source that never runs what it serves (a registry). */
    boolean serveOnly() {
        return serveOnly;
    }

    /** Whether the destination agreed to zstd (the listener always offers it; the source's options decide the use). */
    boolean zstdAgreed() {
        return zstd;
    }

    @Override
    public String toString() {
        return "AuthenticatedDestination(" + peer() + (isOpen() ? "" : ", closed") + ")";
    }

    /** The connection as the engine sees it: closing it (from any thread, once) tells the listener. */
    private final class Session implements Connection {
        private final Connection delegate;
        private final Consumer<AuthenticatedDestination> onClose;
        private final AtomicBoolean closed = new AtomicBoolean();

        Session(Connection delegate, Consumer<AuthenticatedDestination> onClose) {
            this.delegate = delegate;
            this.onClose = onClose;
        }

        @Override
        public InputStream input() throws IOException {
            return delegate.input();
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
            if (closed.compareAndSet(false, true)) {
                delegate.close();
                onClose.accept(AuthenticatedDestination.this);
            }
        }

        @Override
        public String toString() {
            return delegate.toString();
        }
    }
}
