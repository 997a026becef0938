package io.drafter.migration.testing;

import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/** Two connected ends over 127.0.0.1, made through the product's {@link Transport}. */
public final class Loopback {
    /** The dialling end (source) and the accepting end (destination). */
    public record Pair(Connection source, Connection destination) {}

    private Loopback() {}

    public static Pair pair(TransportSecurity sourceSide, TransportSecurity destinationSide) throws IOException {
        try (Transport.ConnectionListener l =
                Transport.listen(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), destinationSide)) {
            CompletableFuture<Connection> accepted = Migration.acceptAsync(l);
            Connection src = Transport.connect(l.address(), sourceSide, Duration.ofSeconds(10));
            try {
                return new Pair(src, accepted.get());
            } catch (ExecutionException e) {
                src.close();
                throw new IOException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
    }

    public static Pair plain() throws IOException {
        return pair(TransportSecurity.plainTcp(), TransportSecurity.plainTcp());
    }
}
