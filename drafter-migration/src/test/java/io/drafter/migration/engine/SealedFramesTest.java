package io.drafter.migration.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.engine.FaultInjectionTest.Run;
import io.drafter.migration.engine.MigrationEngineTest.Source;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameCipher;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.source.AuthenticatedDestination;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.testing.FrameRelay;
import io.drafter.migration.testing.FrameRelay.Action;
import io.drafter.migration.testing.FrameRelay.Rule;
import io.drafter.migration.testing.FrameRelay.Way;
import io.drafter.migration.testing.Migration;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.crypto.AEADBadTagException;
import javax.crypto.SecretKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What a token gives on the wire: a recording relay finds no guest memory in a token-mode migration (and finds it in a
 * plain one), only the handshake travels in clear, keys are new per session and per direction, and a frame changed,
 * dropped, replayed or reordered on the way ends the migration with the source keeping (or taking back) the VM.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SealedFramesTest {
    static final SharedToken TOKEN = FaultInjectionTest.TOKEN;
    static final byte[] MARKER = "drafter-guest-memory-marker-7c1e5a".getBytes(StandardCharsets.US_ASCII);
    static final Pattern NOT_AUTHENTIC =
            Pattern.compile("could not authenticate frame \\d+ from 127\\.0\\.0\\.1:\\d+: the tag does not match");

    /** What travelled each way. */
    record Wire(byte[] toDestination, byte[] toSource) {}

    /** A VM whose memory device holds {@link #MARKER} in every block, and a disk of random bytes. */
    static Source markedVm() throws IOException {
        Source src = new Source()
                .add("memory", 2 << 20, 64 << 10, 5, MigrationEngineTest.FAST)
                .add("disk", 1 << 20, 4096, 6, MigrationEngineTest.FAST);
        var memory = src.trackers.get(0);
        for (long b = 0; b < memory.blockCount(); b++) {
            memory.write(ByteBuffer.wrap(MARKER), b * memory.blockSizeBytes() + 1000);
        }
        return src;
    }

    /**
     * Migrates {@code src} through a listener (token {@code token}, or none and plain TCP allowed) and a recording
     * relay in front of it; checks the contents arrived, and returns what the relay saw.
     */
    static Wire migrateRecorded(SharedToken token, Source src) throws Exception {
        try (MigrationListener l = MigrationListener.bind(
                        Migration.anyLoopbackPort(),
                        TransportSecurity.plainTcp(),
                        token,
                        token == null,
                        MigrationListener.Limits.defaults());
                FrameRelay relay = FrameRelay.recordingToSource(l.address())) {
            Connection c = Transport.connect(relay.address(), TransportSecurity.plainTcp(), FaultInjectionTest.WAIT);
            MigrationDestination dst = MigrationDestination.accept(
                    c,
                    DestinationStorage.inMemory(),
                    DestinationOptions.defaults().withToken(token).withPlainTcpAllowed(token == null),
                    null);
            AuthenticatedDestination session = l.accept(FaultInjectionTest.WAIT);
            MigrationSource source = MigrationSource.start(session, src.devices, SourceOptions.defaults(), src, null);
            MigrationDestination.Resumable r = dst.awaitResumable(FaultInjectionTest.WAIT);
            source.awaitCompleted(FaultInjectionTest.WAIT);
            dst.awaitCompleted(FaultInjectionTest.WAIT);
            MigrationEngineTest.assertSameContents(src, r.devices());
            for (var d : r.devices().values()) {
                d.close();
            }
            return new Wire(relay.recorded(Way.TO_DESTINATION), relay.recorded(Way.TO_SOURCE));
        } finally {
            src.close();
        }
    }

    static int count(byte[] hay, byte[] needle) {
        int n = 0;
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            n++;
        }
        return n;
    }

    /** The frames of a recorded direction, length prefixes included. */
    static List<byte[]> frames(byte[] wire) {
        List<byte[]> frames = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(wire);
        while (b.hasRemaining()) {
            byte[] f = new byte[4 + b.getInt(b.position())];
            b.get(f);
            frames.add(f);
        }
        return frames;
    }

    static Frame clear(byte[] frame) throws ProtocolException {
        return FrameCodec.decode(ByteBuffer.wrap(frame, 4, frame.length - 4));
    }

    static Frame open(FrameCipher opener, byte[] frame) throws Exception {
        byte[] plain = new byte[frame.length - 4 - FrameCipher.TAG_BYTES];
        opener.open(Arrays.copyOf(frame, 4), frame, 4, frame.length - 4, plain, 0);
        return FrameCodec.decode(ByteBuffer.wrap(plain));
    }

    @Test
    void aTokenModeMigrationShowsNoGuestMemoryOnTheWire() throws Exception {
        Wire wire = migrateRecorded(TOKEN, markedVm());
        assertTrue(wire.toDestination().length > (2 << 20), "the devices went through the relay");
        assertEquals(0, count(wire.toDestination(), MARKER), "no guest memory in clear");
        assertEquals(0, count(wire.toSource(), MARKER));
        assertEquals(0, count(wire.toDestination(), Arrays.copyOf(MARKER, 12)), "not even a piece of it");
        byte[] token = "correct horse battery staple".getBytes(StandardCharsets.UTF_8);
        assertEquals(0, count(wire.toDestination(), token), "nor the token");
        assertEquals(0, count(wire.toSource(), token));
    }

    /** The same check on a migration without a token finds the marker: the check above can fail. */
    @Test
    void aPlainMigrationShowsGuestMemoryOnTheWire() throws Exception {
        Source src = markedVm();
        long blocks = src.trackers.get(0).blockCount();
        Wire wire = migrateRecorded(null, src);
        assertTrue(count(wire.toDestination(), MARKER) >= blocks, "every block of memory in clear");
    }

    /** The keys of a recorded token session, derived as the peers did from what travelled in clear. */
    static SharedToken.SessionKeys keys(Wire wire) throws Exception {
        Frame.Hello hello = assertInstanceOf(
                Frame.Hello.class, clear(frames(wire.toDestination()).get(0)));
        Frame.HelloReply reply = assertInstanceOf(
                Frame.HelloReply.class, clear(frames(wire.toSource()).get(0)));
        return TOKEN.sessionKeys(hello.nonce(), reply.nonce(), FrameCodec.handshakeTranscript(hello, reply));
    }

    /**
     * Opens every frame after the first two of {@code frames} in order with {@code key}; returns them. The first two
     * (HELLO or HELLO_REPLY, then AUTH_PROOF) are the only ones in clear.
     */
    static List<Frame> openAll(List<byte[]> frames, SecretKey key) throws Exception {
        assertInstanceOf(Frame.AuthProof.class, clear(frames.get(1)));
        FrameCipher opener = FrameCipher.opening(key);
        List<Frame> out = new ArrayList<>();
        for (byte[] f : frames.subList(2, frames.size())) {
            out.add(open(opener, f));
        }
        return out;
    }

    @Test
    void onlyTheHandshakeIsInClearAndEverySessionAndDirectionHasItsOwnKey() throws Exception {
        Wire one = migrateRecorded(TOKEN, markedVm());
        Wire two = migrateRecorded(TOKEN, markedVm());
        SharedToken.SessionKeys k1 = keys(one);
        SharedToken.SessionKeys k2 = keys(two);

        List<Frame> s2d = openAll(frames(one.toDestination()), k1.sourceToDestination());
        List<Frame> d2s = openAll(frames(one.toSource()), k1.destinationToSource());
        assertInstanceOf(Frame.DeviceGroup.class, s2d.getFirst(), "sealed from the first frame after the proofs");
        assertInstanceOf(Frame.Grant.class, s2d.getLast());
        assertTrue(s2d.stream().anyMatch(Frame.BlockData.class::isInstance));
        assertInstanceOf(Frame.GroupAccepted.class, d2s.getFirst());
        assertInstanceOf(Frame.Completed.class, d2s.getLast());

        // Each direction's frames open only under its own key.
        byte[] firstS2d = frames(one.toDestination()).get(2);
        byte[] firstD2s = frames(one.toSource()).get(2);
        assertThrows(AEADBadTagException.class, () -> open(FrameCipher.opening(k1.destinationToSource()), firstS2d));
        assertThrows(AEADBadTagException.class, () -> open(FrameCipher.opening(k1.sourceToDestination()), firstD2s));
        // Another session: other keys both ways, and the same DEVICE_GROUP seals to other bytes.
        List<byte[]> all = List.of(
                k1.sourceToDestination().getEncoded(),
                k1.destinationToSource().getEncoded(),
                k2.sourceToDestination().getEncoded(),
                k2.destinationToSource().getEncoded());
        for (int i = 0; i < all.size(); i++) {
            for (int j = i + 1; j < all.size(); j++) {
                assertFalse(Arrays.equals(all.get(i), all.get(j)), "keys " + i + " and " + j);
            }
        }
        assertEquals(
                s2d.getFirst(),
                openAll(frames(two.toDestination()), k2.sourceToDestination()).getFirst());
        assertFalse(Arrays.equals(firstS2d, frames(two.toDestination()).get(2)));
        assertThrows(
                AEADBadTagException.class,
                () -> open(
                        FrameCipher.opening(k1.sourceToDestination()),
                        frames(two.toDestination()).get(2)));
    }

    // ------------------------------------------------------------------ frames changed on the way

    /**
     * One change on the wire by a relay that knows the token only to pick its frame: what it forwards is not re-sealed.
     *
     * @param fromSource whether the changed frame travels from the source (the destination detects it)
     * @param suspends how often the source suspended before the failure (1: the engine resumed it)
     */
    record Tamper(String name, Rule rule, boolean fromSource, int suspends, int finalBlocks) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Rule change(Way way, Class<? extends Frame> type, int nth, Consumer<byte[]> how) {
        return new Rule(way, type::isInstance, nth, Action.CORRUPT, how);
    }

    static Stream<Tamper> tampering() {
        return Stream.of(
                new Tamper(
                        "a byte of a BLOCK's ciphertext",
                        change(Way.TO_DESTINATION, Frame.BlockData.class, 3, f -> f[40] ^= 1),
                        true,
                        0,
                        0),
                new Tamper(
                        "a bit of a BLOCK's tag",
                        change(Way.TO_DESTINATION, Frame.BlockData.class, 3, f -> f[f.length - 1] ^= (byte) 0x80),
                        true,
                        0,
                        0),
                new Tamper(
                        "a BLOCK's length prefix",
                        change(
                                Way.TO_DESTINATION,
                                Frame.BlockData.class,
                                3,
                                f -> ByteBuffer.wrap(f)
                                        .putInt(0, ByteBuffer.wrap(f).getInt(0) - 1)),
                        true,
                        0,
                        0),
                new Tamper(
                        "a BLOCK dropped",
                        Rule.on(Way.TO_DESTINATION, Frame.BlockData.class::isInstance, 3, Action.SKIP),
                        true,
                        0,
                        0),
                new Tamper(
                        "a BLOCK replayed",
                        Rule.on(Way.TO_DESTINATION, Frame.BlockData.class::isInstance, 3, Action.REPLAY),
                        true,
                        0,
                        0),
                new Tamper(
                        "two BLOCKs reordered",
                        Rule.on(Way.TO_DESTINATION, Frame.BlockData.class::isInstance, 3, Action.SWAP),
                        true,
                        0,
                        0),
                new Tamper(
                        "a CREDIT from the destination",
                        change(Way.TO_SOURCE, Frame.Credit.class, 2, f -> f[5] ^= 4),
                        false,
                        0,
                        0),
                new Tamper(
                        "the AUTHORITY, after the suspend",
                        change(Way.TO_DESTINATION, Frame.Authority.class, 1, f -> f[6] ^= 1),
                        true,
                        1,
                        0),
                new Tamper(
                        "the TAKEOVER replayed, before the grant",
                        Rule.on(Way.TO_SOURCE, Frame.Takeover.class::isInstance, 1, Action.REPLAY),
                        false,
                        1,
                        40));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tampering")
    void aChangedFrameEndsTheMigrationAndTheSourceKeepsTheVm(Tamper t) throws Exception {
        Source src = FaultInjectionTest.twoDevices();
        if (t.finalBlocks() > 0) {
            // A final dirty set behind a window of 4 blocks: the GRANT is far away when the TAKEOVER arrives.
            FaultInjectionTest.dirtyDuringSuspend(src, t.finalBlocks());
        }
        try (Run run = new Run(src, t.rule(), FaultInjectionTest.WAIT)) {
            MigrationException s = run.sourceFailure();
            MigrationException d = run.destinationFailure();
            assertTrue(run.relay.fired(), "the change was made");
            MigrationException detecting = t.fromSource() ? d : s;
            ProtocolException cause = assertInstanceOf(ProtocolException.class, detecting.getCause());
            assertEquals(ErrorCode.AUTH_FAILED, cause.code(), detecting.getMessage());
            assertFalse(cause.fromPeer());
            assertTrue(NOT_AUTHENTIC.matcher(detecting.getMessage()).find(), detecting.getMessage());
            // The other side learns why from the (sealed) ERROR frame.
            MigrationException told = t.fromSource() ? s : d;
            assertTrue(told.getMessage().contains("reported AUTH_FAILED: "), told.getMessage());
            assertTrue(NOT_AUTHENTIC.matcher(told.getMessage()).find(), told.getMessage());

            assertEquals(Authority.SOURCE, s.authority(), s.getMessage());
            assertFalse(run.source.granted());
            assertEquals(SourcePhase.FAILED, run.source.phase());
            assertEquals(t.suspends(), src.suspends);
            assertEquals(t.suspends(), src.resumes, "resumed by the engine exactly when it had suspended");
            assertEquals(Authority.SOURCE, d.authority());
            assertFalse(run.destinationPhases.contains(DestinationPhase.GRANTED));
            assertEquals(List.of("disk", "memory"), run.storage.discarded, "the partial copy is discarded");
            FaultInjectionTest.assertReadsFail(run.dst.awaitDevices(FaultInjectionTest.WAIT));
            if (t.finalBlocks() == 0) {
                run.assertSourceUnchanged();
            }
        }
    }

    /**
     * A HELLO_REPLY changed on the way (its zstd flag, which no proof covers): the two sides bind their keys to different
     * handshakes, so the first sealed frame fails and no device description reaches the destination.
     */
    @Test
    void aChangedHandshakeFailsAtTheFirstSealedFrame() throws Exception {
        Source src = FaultInjectionTest.twoDevices();
        int flags = 4 + 1 + 4 + 2 + 1; // low byte of HELLO_REPLY's flags
        try (Run run = new Run(
                src,
                change(Way.TO_SOURCE, Frame.HelloReply.class, 1, f -> f[flags] ^= FrameCodec.FLAG_ZSTD),
                FaultInjectionTest.WAIT)) {
            MigrationException d = run.destinationFailure();
            MigrationException s = run.sourceFailure();
            assertTrue(run.relay.fired());
            assertTrue(d.getMessage().contains("could not authenticate frame 0 from"), d.getMessage());
            assertEquals("HANDSHAKE", d.phase());
            assertEquals(List.of(), run.storage.opened, "no device was described to the destination");
            assertEquals(Authority.SOURCE, s.authority());
            assertEquals("HANDSHAKE", s.phase());
            assertEquals(0, src.suspends);
        }
    }

    /** A GRANT changed on the way is a lost GRANT: both sides stop, and only the operator's word resumes the source. */
    @Test
    void aChangedGrantLeavesBothSidesStopped() throws Exception {
        Source src = FaultInjectionTest.twoDevices();
        FaultInjectionTest.dirtyDuringSuspend(src, 10);
        try (Run run = new Run(
                src,
                change(Way.TO_DESTINATION, Frame.Grant.class, 1, f -> f[4] ^= 1),
                FaultInjectionTest.WAIT,
                o -> o.withExplicitTakeover(true))) {
            run.dst.awaitResumable(FaultInjectionTest.WAIT);
            MigrationException taken =
                    assertThrows(MigrationException.class, () -> run.dst.takeOver(FaultInjectionTest.WAIT));
            assertTrue(NOT_AUTHENTIC.matcher(taken.getMessage()).find(), taken.getMessage());
            assertTrue(taken.getMessage().contains("do not run the VM here"), taken.getMessage());
            assertFalse(run.destinationPhases.contains(DestinationPhase.GRANTED));
            assertEquals(List.of("disk", "memory"), run.storage.discarded);
            MigrationException s = run.sourceFailure();
            assertEquals(Authority.UNCERTAIN, s.authority(), s.getMessage());
            assertEquals(0, src.resumes, "after the grant the engine never resumes on its own");
            run.source.resumeSource();
            assertEquals(1, src.resumes);
        }
    }
}
