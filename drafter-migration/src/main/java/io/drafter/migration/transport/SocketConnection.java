package io.drafter.migration.transport;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import javax.net.ssl.SSLSocket;

/**
 * A {@link Connection} over a TCP socket, TLS or plain.
 *
 * <p><b>Note:</b> thread-safe as {@link Connection} requires.
 */
public final class SocketConnection implements Connection {
    private final Socket socket;
    private final String peer;

    public SocketConnection(Socket socket) {
        this.socket = socket;
        this.peer = socket.getInetAddress().getHostAddress() + ":" + socket.getPort();
    }

    @Override
    public InputStream input() throws IOException {
        return socket.getInputStream();
    }

    @Override
    public OutputStream output() throws IOException {
        return socket.getOutputStream();
    }

    @Override
    public String peer() {
        return peer;
    }

    @Override
    public boolean authenticatedTransport() {
        return socket instanceof SSLSocket;
    }

    /** The underlying socket (e.g. to read the TLS session). */
    public Socket socket() {
        return socket;
    }

    @Override
    public void shutdownOutput() {
        try {
            if (!(socket instanceof SSLSocket)) {
                socket.shutdownOutput();
            }
        } catch (IOException | UnsupportedOperationException ignored) {
            // Half-close is a courtesy; close() follows.
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // Closing is best effort: the socket is unusable either way.
        }
    }

    @Override
    public String toString() {
        return (authenticatedTransport() ? "tls://" : "tcp://") + peer;
    }
}
