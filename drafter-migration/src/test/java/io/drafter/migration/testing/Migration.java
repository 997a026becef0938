package io.drafter.migration.testing;

import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceDevice;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SuspendHook;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Both engines of one test migration, started over a connected pair. */
public record Migration(MigrationSource source, MigrationDestination destination) {
    /** Accepts on the destination end of {@code pair}, then starts the source on the other end (no listeners). */
    public static Migration start(
            Loopback.Pair pair,
            DestinationStorage storage,
            DestinationOptions destinationOptions,
            List<SourceDevice> devices,
            SourceOptions sourceOptions,
            SuspendHook hook)
            throws IOException {
        MigrationDestination d = MigrationDestination.accept(pair.destination(), storage, destinationOptions, null);
        MigrationSource s = MigrationSource.start(pair.source(), devices, sourceOptions, hook, null);
        return new Migration(s, d);
    }

    /** A loopback address with port 0, for listeners. */
    public static InetSocketAddress anyLoopbackPort() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
    }

    /** Accepts one connection on {@code l} in the background. */
    public static CompletableFuture<io.drafter.migration.transport.Connection> acceptAsync(
            io.drafter.migration.transport.Transport.ConnectionListener l) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return l.accept(Duration.ofSeconds(10));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }
}
