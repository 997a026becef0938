package io.drafter.migration.transport;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * A byte stream to one peer, as the migration engines use it.
 *
 * <p><b>Note:</b> one thread reads and one thread writes; {@link #close()} may be called from any thread, is idempotent,
 * and unblocks both.
 */
public interface Connection extends Closeable {
    InputStream input() throws IOException;

    OutputStream output() throws IOException;

    /** The peer, for messages (e.g. {@code 127.0.0.1:4711}). */
    String peer();

    /** Whether the bytes are encrypted and the peer authenticated by the transport (TLS). */
    boolean authenticatedTransport();

    /** Ends this side's sending (TCP half-close) so that the peer reads everything sent before end-of-stream. */
    default void shutdownOutput() {}

    @Override
    void close();
}
