package io.drafter.migration.protocol;

import java.io.IOException;

/**
 * A protocol failure with the {@link ErrorCode} to report to the peer (when raised locally) or that the peer reported
 * (when {@link #fromPeer()}).
 */
public final class ProtocolException extends IOException {
    private final ErrorCode code;
    private final boolean fromPeer;

    public ProtocolException(ErrorCode code, String message) {
        this(code, message, false);
    }

    public ProtocolException(ErrorCode code, String message, boolean fromPeer) {
        super(message);
        this.code = code;
        this.fromPeer = fromPeer;
    }

    /** Why the protocol failed. */
    public ErrorCode code() {
        return code;
    }

    /** Whether the peer sent this error in an ERROR frame (rather than this side detecting it). */
    public boolean fromPeer() {
        return fromPeer;
    }
}
