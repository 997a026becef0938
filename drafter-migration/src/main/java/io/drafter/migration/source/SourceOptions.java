package io.drafter.migration.source;

import io.drafter.migration.transport.SharedToken;
import java.time.Duration;

/**
 * How the source runs a migration.
 *
 * @param compression ask for zstd on BLOCK data (used when the destination agrees; a block is sent compressed only if
 *     that is smaller)
 * @param stallTimeout fail when nothing arrives from the destination for this long (it pings when idle)
 * @param authorityPayload opaque bytes handed over with authority (e.g. the VM's configuration), at most 64 KiB
 * @param token the shared token, or {@code null}
 * @param allowPlainTcp allow a plain TCP connection without a token (no authentication at all)
 * @param serveOnly the source serves a copy that it never runs and that never changes (a registry): AUTHORITY goes out
 *     right after the handshake, so the destination may run at once and fetch what it reads first, while every block
 *     streams in behind, device after device in the order given (put first what the destination needs first); the
 *     GRANT still follows the last block. No suspend hook is called and there are no dirty
 *     rounds. Over a {@link MigrationListener}, the listener must announce it too
 */
public record SourceOptions(
        boolean compression,
        Duration stallTimeout,
        byte[] authorityPayload,
        SharedToken token,
        boolean allowPlainTcp,
        boolean serveOnly) {
    public SourceOptions {
        authorityPayload = authorityPayload == null ? new byte[0] : authorityPayload.clone();
        if (authorityPayload.length > io.drafter.migration.protocol.FrameCodec.MAX_AUTHORITY_PAYLOAD) {
            throw new IllegalArgumentException("authority payload of " + authorityPayload.length + " bytes exceeds "
                    + io.drafter.migration.protocol.FrameCodec.MAX_AUTHORITY_PAYLOAD);
        }
        if (stallTimeout == null || stallTimeout.toMillis() < 50) {
            throw new IllegalArgumentException("stallTimeout must be at least 50 ms, got " + stallTimeout);
        }
    }

    /** No compression, 30 s stall timeout, empty payload, no token, plain TCP refused. */
    public static SourceOptions defaults() {
        return new SourceOptions(false, Duration.ofSeconds(30), new byte[0], null, false, false);
    }

    public SourceOptions withCompression(boolean on) {
        return new SourceOptions(on, stallTimeout, authorityPayload, token, allowPlainTcp, serveOnly);
    }

    public SourceOptions withStallTimeout(Duration d) {
        return new SourceOptions(compression, d, authorityPayload, token, allowPlainTcp, serveOnly);
    }

    public SourceOptions withAuthorityPayload(byte[] payload) {
        return new SourceOptions(compression, stallTimeout, payload, token, allowPlainTcp, serveOnly);
    }

    public SourceOptions withToken(SharedToken t) {
        return new SourceOptions(compression, stallTimeout, authorityPayload, t, allowPlainTcp, serveOnly);
    }

    public SourceOptions withPlainTcpAllowed(boolean allow) {
        return new SourceOptions(compression, stallTimeout, authorityPayload, token, allow, serveOnly);
    }

    public SourceOptions withServeOnly(boolean on) {
        return new SourceOptions(compression, stallTimeout, authorityPayload, token, allowPlainTcp, on);
    }
}
