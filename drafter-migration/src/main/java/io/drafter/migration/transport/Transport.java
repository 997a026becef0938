package io.drafter.migration.transport;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * Opens migration connections: {@link #connect} for the dialling side, {@link #listen} for a simple accepting side,
 * {@link #bind} and {@link #accepted} for a listener that runs each accepted socket's TLS handshake on a thread of its
 * own (the source's {@code MigrationListener}). With TLS the handshake completes inside {@link #connect} and {@link
 * #accepted}, so a peer without a trusted certificate is refused before any protocol byte moves.
 *
 * <p><b>Note:</b> stateless; listeners are thread-safe.
 */
public final class Transport {
    private static final String[] TLS13 = {"TLSv1.3"};

    private Transport() {}

    /** Connects to {@code address}, completing the TLS handshake if {@code security} asks for TLS. */
    public static Connection connect(InetSocketAddress address, TransportSecurity security, Duration timeout)
            throws IOException {
        Socket plain = new Socket();
        try {
            plain.setTcpNoDelay(true);
            plain.connect(address, (int) timeout.toMillis());
        } catch (IOException e) {
            plain.close();
            throw new IOException("could not connect to " + address + ": " + e.getMessage(), e);
        }
        return switch (security) {
            case TransportSecurity.PlainTcp _ -> new SocketConnection(plain);
            case TransportSecurity.Tls tls -> {
                SSLSocket s = (SSLSocket) tls.context()
                        .getSocketFactory()
                        .createSocket(plain, address.getHostString(), address.getPort(), true);
                yield handshake(s, address.toString(), timeout);
            }
        };
    }

    /** Listens on {@code address} (port 0 picks a free port). */
    public static ConnectionListener listen(InetSocketAddress address, TransportSecurity security) throws IOException {
        return new ConnectionListener(bind(address, security));
    }

    /**
     * A server socket bound to {@code address} (port 0 picks a free port). With TLS it speaks only TLS 1.3 and requires
     * a client certificate; the sockets it accepts have not run their handshake yet: {@link #accepted} does that.
     *
     * @throws IOException {@code could not listen on <address>: <reason>}
     */
    public static ServerSocket bind(InetSocketAddress address, TransportSecurity security) throws IOException {
        ServerSocket server;
        try {
            server = switch (security) {
                case TransportSecurity.PlainTcp _ -> new ServerSocket();
                case TransportSecurity.Tls tls -> {
                    SSLServerSocket s = (SSLServerSocket)
                            tls.context().getServerSocketFactory().createServerSocket();
                    s.setNeedClientAuth(true);
                    s.setEnabledProtocols(TLS13);
                    yield s;
                }
            };
        } catch (IOException e) {
            throw new IOException("could not listen on " + address + ": " + e.getMessage(), e);
        }
        try {
            server.setReuseAddress(true);
            server.bind(address);
        } catch (IOException e) {
            server.close();
            throw new IOException("could not listen on " + address + ": " + e.getMessage(), e);
        }
        return server;
    }

    /**
     * Makes a connection of a socket accepted by a {@link #bind} socket: completes its TLS handshake within {@code
     * handshakeTimeout} (a peer without a trusted certificate is refused with an exception naming it), or just wraps a
     * plain one. Closes the socket if it fails.
     */
    public static Connection accepted(Socket s, Duration handshakeTimeout) throws IOException {
        String peer = s.getInetAddress().getHostAddress() + ":" + s.getPort();
        try {
            s.setTcpNoDelay(true);
        } catch (IOException e) {
            s.close();
            throw new IOException("could not set up connection from " + peer + ": " + e.getMessage(), e);
        }
        if (s instanceof SSLSocket ssl) {
            return handshake(ssl, peer, handshakeTimeout);
        }
        return new SocketConnection(s);
    }

    private static Connection handshake(SSLSocket s, String peer, Duration timeout) throws IOException {
        try {
            s.setEnabledProtocols(TLS13);
            s.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis())));
            s.startHandshake();
            s.setSoTimeout(0);
            return new SocketConnection(s);
        } catch (IOException e) {
            s.close();
            throw new IOException("could not complete TLS handshake with " + peer + ": " + e.getMessage(), e);
        }
    }

    /** Accepts connections; each accepted TLS connection has completed its handshake. */
    public static final class ConnectionListener implements Closeable {
        private final ServerSocket server;

        ConnectionListener(ServerSocket server) {
            this.server = server;
        }

        /** The bound port. */
        public int port() {
            return server.getLocalPort();
        }

        /** The bound address. */
        public InetSocketAddress address() {
            return (InetSocketAddress) server.getLocalSocketAddress();
        }

        /**
         * Waits for the next connection. A TLS peer that fails the handshake (no or untrusted certificate) is refused
         * with an exception naming it.
         */
        public Connection accept(Duration handshakeTimeout) throws IOException {
            return accepted(server.accept(), handshakeTimeout);
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
