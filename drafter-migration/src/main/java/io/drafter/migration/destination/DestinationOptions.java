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
 * @param waitForAllBlocks ask for the hand-over (or, with {@code explicitTakeover}, let the caller prepare) only once
 *     every block is here (Drafter's {@code --disable-postcopy-migration}); the grant itself always follows every block
 * @param windowBytes per device, how many bytes of data frames may be in flight (sets the credit)
 * @param explicitTakeover the caller drives the hand-over: {@link MigrationDestination#awaitResumable} returns when it
 *     may prepare (load state), {@link MigrationDestination#takeOver} asks for the grant and returns once it may run,
 *     and {@link MigrationDestination#confirmTakeover()} reports that it runs (COMPLETED). Off: the engine asks for the
 *     grant right after authority, {@code awaitResumable} returns with it, and COMPLETED goes out at once
 * @param copyOnly this side keeps a copy and never runs it (a live backup): the source resumes its writers once it has
 *     written the GRANT and stays the owner, and COMPLETED tells it the copy is kept (durable)
 */
public record DestinationOptions(
        boolean compression,
        Duration stallTimeout,
        SharedToken token,
        boolean allowPlainTcp,
        boolean waitForAllBlocks,
        int windowBytes,
        boolean explicitTakeover,
        boolean copyOnly) {
    public DestinationOptions {
        if (stallTimeout == null || stallTimeout.toMillis() < 50) {
            throw new IllegalArgumentException("stallTimeout must be at least 50 ms, got " + stallTimeout);
        }
        if (windowBytes < 1) {
            throw new IllegalArgumentException("windowBytes must be positive, got " + windowBytes);
        }
    }

    /**
     * Compression accepted, 30 s stall timeout, no token, plain TCP refused, takeover requested right after authority,
     * 16 MiB window, the engine drives the hand-over.
     */
    public static DestinationOptions defaults() {
        return new DestinationOptions(true, Duration.ofSeconds(30), null, false, false, 16 << 20, false, false);
    }

    public DestinationOptions withCompression(boolean on) {
        return new DestinationOptions(
                on, stallTimeout, token, allowPlainTcp, waitForAllBlocks, windowBytes, explicitTakeover, copyOnly);
    }

    public DestinationOptions withStallTimeout(Duration d) {
        return new DestinationOptions(
                compression, d, token, allowPlainTcp, waitForAllBlocks, windowBytes, explicitTakeover, copyOnly);
    }

    public DestinationOptions withToken(SharedToken t) {
        return new DestinationOptions(
                compression, stallTimeout, t, allowPlainTcp, waitForAllBlocks, windowBytes, explicitTakeover, copyOnly);
    }

    public DestinationOptions withPlainTcpAllowed(boolean allow) {
        return new DestinationOptions(
                compression, stallTimeout, token, allow, waitForAllBlocks, windowBytes, explicitTakeover, copyOnly);
    }

    public DestinationOptions withWaitForAllBlocks(boolean wait) {
        return new DestinationOptions(
                compression, stallTimeout, token, allowPlainTcp, wait, windowBytes, explicitTakeover, copyOnly);
    }

    public DestinationOptions withExplicitTakeover(boolean explicit) {
        return new DestinationOptions(
                compression, stallTimeout, token, allowPlainTcp, waitForAllBlocks, windowBytes, explicit, copyOnly);
    }

    public DestinationOptions withWindowBytes(int bytes) {
        return new DestinationOptions(
                compression, stallTimeout, token, allowPlainTcp, waitForAllBlocks, bytes, explicitTakeover, copyOnly);
    }

    public DestinationOptions withCopyOnly(boolean copy) {
        return new DestinationOptions(
                compression, stallTimeout, token, allowPlainTcp, waitForAllBlocks, windowBytes, explicitTakeover, copy);
    }
}
