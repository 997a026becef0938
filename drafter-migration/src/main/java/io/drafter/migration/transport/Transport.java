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
 * Opens migration connections: {@link #connect} for the dialling side, {@link #listen} for the accepting side. With
 * TLS the handshake completes inside these calls, so a peer without a trusted certificate is refused before any
 * protocol byte moves.
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
        ServerSocket server = switch (security) {
            case TransportSecurity.PlainTcp _ -> new ServerSocket();
            case TransportSecurity.Tls tls -> {
                SSLServerSocket s =
                        (SSLServerSocket) tls.context().getServerSocketFactory().createServerSocket();
                s.setNeedClientAuth(true);
                s.setEnabledProtocols(TLS13);
                yield s;
            }
        };
        try {
            server.setReuseAddress(true);
            server.bind(address);
        } catch (IOException e) {
            server.close();
            throw new IOException("could not listen on " + address + ": " + e.getMessage(), e);
        }
        return new ConnectionListener(server);
    }

    private static Connection handshake(SSLSocket s, String peer, Duration timeout) throws IOException {
        try {
            s.setEnabledProtocols(TLS13);
            s.setSoTimeout((int) timeout.toMillis());
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
            Socket s = server.accept();
            s.setTcpNoDelay(true);
            String peer = s.getInetAddress().getHostAddress() + ":" + s.getPort();
            if (s instanceof SSLSocket ssl) {
                return handshake(ssl, peer, handshakeTimeout);
            }
            return new SocketConnection(s);
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
