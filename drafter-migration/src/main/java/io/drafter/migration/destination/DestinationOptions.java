package io.drafter.migration.destination;

import io.drafter.migration.transport.SharedToken;
import java.time.Duration;

/**
 * How the destination takes a migration.
 *
 * @param compression accept zstd-compressed BLOCK data if the source asks for it
 * @param stallTimeout fail when nothing arrives from the source for this long (it pings when idle)
 * @param token the shared token, or {@code null}
 * @param allowPlainTcp accept a plain TCP connection without a token
 * @param waitForAllBlocks become resumable only once every block is here (no post-copy; Drafter's {@code
 *     --disable-postcopy-migration})
 * @param windowBytes per device, how many bytes of data frames may be in flight (sets the credit)
 * @param holdCompletion report COMPLETED to the source only after {@link MigrationDestination#confirmTakeover()}:
 *     the source then keeps its (paused) copy until the destination's application says it took over, and a
 *     destination that cannot take over can still give authority back with {@link MigrationDestination#abort()}
 */
public record DestinationOptions(
        boolean compression,
        Duration stallTimeout,
        SharedToken token,
        boolean allowPlainTcp,
        boolean waitForAllBlocks,
        int windowBytes,
        boolean holdCompletion) {
    public DestinationOptions {
        if (stallTimeout == null || stallTimeout.toMillis() < 50) {
            throw new IllegalArgumentException("stallTimeout must be at least 50 ms, got " + stallTimeout);
        }
        if (windowBytes < 1) {
            throw new IllegalArgumentException("windowBytes must be positive, got " + windowBytes);
        }
    }

    /** Compression accepted, 30 s stall timeout, no token, plain TCP refused, post-copy on, 16 MiB window. */
    public static DestinationOptions defaults() {
        return new DestinationOptions(true, Duration.ofSeconds(30), null, false, false, 16 << 20, false);
    }

    public DestinationOptions withCompression(boolean on) {
        return new DestinationOptions(
                on, stallTimeout, token, allowPlainTcp, waitForAllBlocks, windowBytes, holdCompletion);
    }

    public DestinationOptions withStallTimeout(Duration d) {
        return new DestinationOptions(
                compression, d, token, allowPlainTcp, waitForAllBlocks, windowBytes, holdCompletion);
    }

    public DestinationOptions withToken(SharedToken t) {
        return new DestinationOptions(
                compression, stallTimeout, t, allowPlainTcp, waitForAllBlocks, windowBytes, holdCompletion);
    }

    public DestinationOptions withPlainTcpAllowed(boolean allow) {
        return new DestinationOptions(
                compression, stallTimeout, token, allow, waitForAllBlocks, windowBytes, holdCompletion);
    }

    public DestinationOptions withWaitForAllBlocks(boolean wait) {
        return new DestinationOptions(
                compression, stallTimeout, token, allowPlainTcp, wait, windowBytes, holdCompletion);
    }

    public DestinationOptions withHoldCompletion(boolean hold) {
        return new DestinationOptions(
                compression, stallTimeout, token, allowPlainTcp, waitForAllBlocks, windowBytes, hold);
    }

    public DestinationOptions withWindowBytes(int bytes) {
        return new DestinationOptions(
                compression, stallTimeout, token, allowPlainTcp, waitForAllBlocks, bytes, holdCompletion);
    }
}
