package io.drafter.migration.internal;

import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameAdapter;
import io.drafter.migration.protocol.FrameCipher;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.FrameProxy;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.List;

/**
 * The opening of a session, both roles: HELLO / HELLO_REPLY (magic, version, features), the shared-token proofs, and
 * the device group. Each step checks what it receives and raises a {@link ProtocolException} with the code to send.
 *
 * <p>The dialling side (the destination) proves that it knows the token first; the source checks that proof before it
 * sends its own, so a client without the token learns nothing from the source but its HELLO. Until the peer is
 * authenticated its frames are bounded to {@value FrameCodec#UNAUTHENTICATED_FRAME_BYTES} bytes.
 *
 * <p>With a token over a connection that TLS does not protect, each side seals every frame it sends after its own
 * AUTH_PROOF ({@link FrameCipher}, AES-256-GCM under the keys of {@link SharedToken#sessionKeys}) and opens every frame
 * its peer sends after the peer's AUTH_PROOF. In clear travel only HELLO, HELLO_REPLY, the two AUTH_PROOFs, and what a
 * side sends before its own proof (an ERROR refusing the handshake, a destination's PING).
 *
 * <p><b>Note:</b> runs on the thread that owns the connection, before any device data moves.
 */
public final class Handshake {
    private static final SecureRandom RANDOM = new SecureRandom();
    static final String SOURCE_ROLE = "source";
    static final String DESTINATION_ROLE = "destination";

    /**
     * What both sides agreed on; {@code serveOnly}: the source announced a copy it never runs ({@link
     * FrameCodec#FLAG_SERVE_ONLY}).
     */
    public record Agreed(boolean zstd, List<DeviceSpec> devices, int initialCredit, boolean serveOnly) {}

    /**
     * What the source learned from the destination's HELLO_REPLY: whether zstd is agreed, and whether the destination
     * only keeps a copy ({@link FrameCodec#FLAG_COPY_ONLY}).
     */
    public record Replied(boolean zstd, boolean copyOnly) {}

    /** Decides about the source's device group on the destination; returns the initial credit per device. */
    @FunctionalInterface
    public interface GroupDecision {
        int accept(List<DeviceSpec> devices) throws IOException;
    }

    private Handshake() {}

    /**
     * Whether a session with {@code token} over {@code c} seals its frames: with a token, unless TLS protects the
     * connection already.
     */
    public static boolean sealsFrames(Connection c, SharedToken token) {
        return token != null && !c.authenticatedTransport();
    }

    /** Refuses plain TCP without a token unless the caller opted in. */
    public static void checkSecurity(Connection c, SharedToken token, boolean allowPlain, String what)
            throws IOException {
        if (!c.authenticatedTransport() && token == null && !allowPlain) {
            throw new IOException("could not " + what + " " + c.peer()
                    + ": plain TCP without a shared token authenticates nobody; use TLS, a token, or allow plain TCP"
                    + " explicitly");
        }
    }

    /**
     * The source side, first half: sends HELLO, checks the reply, checks the destination's token proof and only then
     * sends its own. Frames from the destination are bounded until it is authenticated. With {@code sealFrames} (see
     * {@link #sealsFrames}) frames are sealed both ways from there on. {@code serveOnly} announces a source that never
     * runs what it serves ({@link FrameCodec#FLAG_SERVE_ONLY}).
     */
    public static Replied sourceAuthenticate(
            FrameAdapter in,
            FrameProxy out,
            String peer,
            boolean offerZstd,
            SharedToken token,
            boolean sealFrames,
            boolean serveOnly)
            throws IOException {
        if (sealFrames && token == null) {
            throw new IllegalArgumentException("sealing frames needs a shared token");
        }
        in.limitFrameBytes(FrameCodec.UNAUTHENTICATED_FRAME_BYTES);
        byte[] nonceS = nonce();
        int flags = (offerZstd ? FrameCodec.FLAG_ZSTD : 0)
                | (token != null ? FrameCodec.FLAG_TOKEN : 0)
                | (serveOnly ? FrameCodec.FLAG_SERVE_ONLY : 0);
        Frame.Hello hello = new Frame.Hello(FrameCodec.VERSION, flags, nonceS);
        out.sendNow(hello);
        Frame first = in.read();
        Frame.HelloReply reply = switch (first) {
            case Frame.HelloReply r -> r;
            case Frame.Error e -> throw peerError(e, peer);
            default -> throw unexpected(first, "HELLO_REPLY");
        };
        if (reply.version() != FrameCodec.VERSION) {
            throw new ProtocolException(
                    ErrorCode.UNSUPPORTED_VERSION,
                    "destination " + peer + " speaks protocol version " + reply.version() + ", this source speaks "
                            + FrameCodec.VERSION);
        }
        boolean peerToken = (reply.flags() & FrameCodec.FLAG_TOKEN) != 0;
        if (peerToken != (token != null)) {
            throw new ProtocolException(
                    ErrorCode.AUTH_FAILED,
                    token != null
                            ? "destination " + peer + " does not use a shared token"
                            : "destination " + peer + " requires a shared token");
        }
        if (token != null) {
            Frame proof = nextSkippingPings(in);
            switch (proof) {
                case Frame.AuthProof p -> {
                    if (!token.verify(p.mac(), DESTINATION_ROLE, nonceS, reply.nonce())) {
                        throw new ProtocolException(
                                ErrorCode.AUTH_FAILED, "destination " + peer + " does not know the shared token");
                    }
                }
                case Frame.Error e -> throw peerError(e, peer);
                default -> throw unexpected(proof, "AUTH_PROOF");
            }
            Frame.AuthProof own = new Frame.AuthProof(token.proof(SOURCE_ROLE, nonceS, reply.nonce()));
            if (sealFrames) {
                SharedToken.SessionKeys keys =
                        token.sessionKeys(nonceS, reply.nonce(), FrameCodec.handshakeTranscript(hello, reply));
                // The destination sealed everything after its proof; this side seals everything after its own.
                in.openWith(FrameCipher.opening(keys.destinationToSource()));
                out.sendNowThenSeal(own, FrameCipher.sealing(keys.sourceToDestination()));
            } else {
                out.sendNow(own);
            }
        }
        in.limitFrameBytes(FrameCodec.MAX_FRAME_BYTES);
        return new Replied(
                offerZstd && (reply.flags() & FrameCodec.FLAG_ZSTD) != 0,
                (reply.flags() & FrameCodec.FLAG_COPY_ONLY) != 0);
    }

    /** The source side, second half: sends the device group and waits for its acceptance. */
    public static Agreed sourceGroup(
            FrameAdapter in, FrameProxy out, String peer, List<DeviceSpec> devices, boolean zstd, boolean serveOnly)
            throws IOException {
        out.sendNow(new Frame.DeviceGroup(devices));
        Frame accepted = nextSkippingPings(in);
        return switch (accepted) {
            case Frame.GroupAccepted g -> new Agreed(zstd, devices, g.initialCredit(), serveOnly);
            case Frame.Error e -> throw peerError(e, peer);
            default -> throw unexpected(accepted, "GROUP_ACCEPTED");
        };
    }

    /**
     * The destination side, first step: reads and checks HELLO, replies ({@code copyOnly}: this side keeps a copy and
     * never runs it). Returns the two nonces, whether zstd is on, and, with {@code sealFrames} (see {@link
     * #sealsFrames}), the session's keys.
     */
    public static Opened destinationHello(
            FrameAdapter in,
            FrameProxy out,
            String peer,
            boolean zstdAllowed,
            SharedToken token,
            boolean sealFrames,
            boolean copyOnly)
            throws IOException {
        if (sealFrames && token == null) {
            throw new IllegalArgumentException("sealing frames needs a shared token");
        }
        in.limitFrameBytes(FrameCodec.UNAUTHENTICATED_FRAME_BYTES);
        Frame first = in.read();
        Frame.Hello hello = switch (first) {
            case Frame.Hello h -> h;
            case Frame.Error e -> throw peerError(e, peer);
            default -> throw unexpected(first, "HELLO");
        };
        if (hello.version() != FrameCodec.VERSION) {
            throw new ProtocolException(
                    ErrorCode.UNSUPPORTED_VERSION,
                    "source " + peer + " speaks protocol version " + hello.version() + ", this destination speaks "
                            + FrameCodec.VERSION);
        }
        boolean peerToken = (hello.flags() & FrameCodec.FLAG_TOKEN) != 0;
        if (peerToken != (token != null)) {
            throw new ProtocolException(
                    ErrorCode.AUTH_FAILED,
                    token != null
                            ? "source " + peer + " did not offer the shared token this destination requires"
                            : "source " + peer + " offers a shared token but this destination has none");
        }
        boolean zstd = zstdAllowed && (hello.flags() & FrameCodec.FLAG_ZSTD) != 0;
        byte[] nonceD = nonce();
        int flags = (zstd ? FrameCodec.FLAG_ZSTD : 0)
                | (token != null ? FrameCodec.FLAG_TOKEN : 0)
                | (copyOnly ? FrameCodec.FLAG_COPY_ONLY : 0);
        Frame.HelloReply reply = new Frame.HelloReply(FrameCodec.VERSION, flags, nonceD);
        out.sendNow(reply);
        SharedToken.SessionKeys keys = sealFrames
                ? token.sessionKeys(hello.nonce(), nonceD, FrameCodec.handshakeTranscript(hello, reply))
                : null;
        boolean serveOnly = (hello.flags() & FrameCodec.FLAG_SERVE_ONLY) != 0;
        return new Opened(hello.nonce(), nonceD, zstd, keys, serveOnly);
    }

    /**
     * The result of {@link #destinationHello}; {@code keys} is {@code null} unless frames are sealed; {@code serveOnly}:
     * the source announced a copy it never runs.
     */
    public record Opened(byte[] nonceS, byte[] nonceD, boolean zstd, SharedToken.SessionKeys keys, boolean serveOnly) {}

    /**
     * The destination side, second step: proves the token first, checks the source's proof, then takes the device
     * group and decides about it.
     */
    public static Agreed destinationRest(
            FrameAdapter in, FrameProxy out, String peer, Opened opened, SharedToken token, GroupDecision decision)
            throws IOException {
        if (token != null) {
            Frame.AuthProof own = new Frame.AuthProof(token.proof(DESTINATION_ROLE, opened.nonceS(), opened.nonceD()));
            if (opened.keys() != null) {
                // Atomic with the proof: a PING of the engine's agent must not slip in clear behind it.
                out.sendNowThenSeal(own, FrameCipher.sealing(opened.keys().destinationToSource()));
            } else {
                out.sendNow(own);
            }
            Frame proof = nextSkippingPings(in);
            switch (proof) {
                case Frame.AuthProof p -> {
                    if (!token.verify(p.mac(), SOURCE_ROLE, opened.nonceS(), opened.nonceD())) {
                        throw new ProtocolException(
                                ErrorCode.AUTH_FAILED, "source " + peer + " does not know the shared token");
                    }
                }
                case Frame.Error e -> throw peerError(e, peer);
                default -> throw unexpected(proof, "AUTH_PROOF");
            }
            if (opened.keys() != null) {
                in.openWith(FrameCipher.opening(opened.keys().sourceToDestination()));
            }
        }
        // Authenticated (or trusted by TLS or the caller's opt-in): the group may need more than the handshake bound.
        in.limitFrameBytes(FrameCodec.MAX_FRAME_BYTES);
        Frame g = nextSkippingPings(in);
        List<DeviceSpec> devices = switch (g) {
            case Frame.DeviceGroup group -> group.devices();
            case Frame.Error e -> throw peerError(e, peer);
            default -> throw unexpected(g, "DEVICE_GROUP");
        };
        int credit = decision.accept(devices);
        out.sendNow(new Frame.GroupAccepted(credit));
        return new Agreed(opened.zstd(), devices, credit, opened.serveOnly());
    }

    private static Frame nextSkippingPings(FrameAdapter in) throws IOException {
        while (true) {
            Frame f = in.read();
            if (!(f instanceof Frame.Ping)) {
                return f;
            }
        }
    }

    /** The exception for an ERROR frame from {@code peer}. */
    public static ProtocolException peerError(Frame.Error e, String peer) {
        return new ProtocolException(e.code(), "peer " + peer + " reported " + e.code() + ": " + e.message(), true);
    }

    /** The exception for a frame that is not allowed here. */
    public static ProtocolException unexpected(Frame f, String expected) {
        return new ProtocolException(
                ErrorCode.UNEXPECTED_FRAME,
                "unexpected frame " + f.getClass().getSimpleName() + " (expected " + expected + ")");
    }

    private static byte[] nonce() {
        byte[] n = new byte[FrameCodec.NONCE_BYTES];
        RANDOM.nextBytes(n);
        return n;
    }
}
