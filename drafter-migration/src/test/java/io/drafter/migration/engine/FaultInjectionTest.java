package io.drafter.migration.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.engine.MigrationEngineTest.Source;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameAdapter;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.FrameProxy;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.testing.FrameRelay;
import io.drafter.migration.testing.FrameRelay.Action;
import io.drafter.migration.testing.FrameRelay.Rule;
import io.drafter.migration.testing.FrameRelay.Way;
import io.drafter.migration.testing.Loopback;
import io.drafter.migration.testing.Migration;
import io.drafter.migration.testing.TestDevices;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Faults at every phase: the connection dropped, stalled or corrupted by a relay, wrong tokens, versions and
 * handshakes. Each case checks the error is clear, the right side is authoritative, and nothing is lost.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FaultInjectionTest {
    static final Duration WAIT = Duration.ofSeconds(30);
    static final SharedToken TOKEN = SharedToken.of("correct horse battery staple");

    /** Destination storage in memory that records what it discarded. */
    static class RecordingStorage implements DestinationStorage {
        final List<String> opened = Collections.synchronizedList(new ArrayList<>());
        final List<String> discarded = Collections.synchronizedList(new ArrayList<>());

        @Override
        public Opened open(DeviceSpec spec) throws IOException {
            opened.add(spec.name());
            return DestinationStorage.inMemory().open(spec);
        }

        @Override
        public void discard(DeviceSpec spec, BlockDevice device) throws IOException {
            discarded.add(spec.name());
            device.close();
        }
    }

    /** A migration through a relay: source → relay → destination. */
    static final class Run implements AutoCloseable {
        final Source src;
        final RecordingStorage storage = new RecordingStorage();
        final List<String> hashesBefore = new ArrayList<>();
        final FrameRelay relay;
        final MigrationDestination dst;
        final MigrationSource source;

        final List<DestinationPhase> destinationPhases = Collections.synchronizedList(new ArrayList<>());
        /** One permit per dirty round the source started, all devices together (the final set included). */
        final Semaphore dirtyRounds = new Semaphore(0);

        Run(Source src, Rule rule, Duration stall) throws Exception {
            this(src, rule, stall, o -> o);
        }

        Run(Source src, Rule rule, Duration stall, UnaryOperator<DestinationOptions> destinationOptions)
                throws Exception {
            this(src, rule, stall, destinationOptions, TOKEN);
        }

        /**
         * With {@code token} both sides use it and the relay knows it (to match sealed frames); with {@code null} the
         * migration runs over plain TCP without one (allowed explicitly), every frame in clear.
         */
        Run(
                Source src,
                Rule rule,
                Duration stall,
                UnaryOperator<DestinationOptions> destinationOptions,
                SharedToken token)
                throws Exception {
            this.src = src;
            for (var t : src.trackers) {
                hashesBefore.add(TestDevices.sha256(t));
            }
            try (Transport.ConnectionListener l = Transport.listen(
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), TransportSecurity.plainTcp())) {
                relay = new FrameRelay(l.address(), rule, token);
                CompletableFuture<Connection> accepted = Migration.acceptAsync(l);
                Connection c = Transport.connect(relay.address(), TransportSecurity.plainTcp(), WAIT);
                dst = MigrationDestination.accept(
                        accepted.get(),
                        storage,
                        destinationOptions.apply(DestinationOptions.defaults()
                                .withToken(token)
                                .withPlainTcpAllowed(token == null)
                                .withStallTimeout(stall)
                                .withWindowBytes(256 << 10)),
                        new DestinationListener() {
                            @Override
                            public void onPhase(DestinationPhase from, DestinationPhase to, Duration timeInFrom) {
                                destinationPhases.add(to);
                            }
                        });
                source = MigrationSource.start(
                        c,
                        src.devices,
                        SourceOptions.defaults()
                                .withToken(token)
                                .withPlainTcpAllowed(token == null)
                                .withStallTimeout(stall),
                        src,
                        new SourceListener() {
                            @Override
                            public void onDirtyRound(String device, int round, int dirtyBlocks, boolean last) {
                                dirtyRounds.release();
                            }
                        });
            }
        }

        /** Waits until the source started {@code n} dirty rounds, all devices together. */
        void awaitDirtyRounds(int n) throws InterruptedException {
            assertTrue(dirtyRounds.tryAcquire(n, WAIT.toMillis(), TimeUnit.MILLISECONDS), n + " dirty rounds");
        }

        MigrationException sourceFailure() {
            return assertThrows(MigrationException.class, () -> source.awaitCompleted(WAIT));
        }

        MigrationException destinationFailure() {
            return assertThrows(MigrationException.class, () -> dst.awaitCompleted(WAIT));
        }

        /** The source devices hold what they held before (no writers ran). */
        void assertSourceUnchanged() throws IOException {
            for (int i = 0; i < src.trackers.size(); i++) {
                assertEquals(hashesBefore.get(i), TestDevices.sha256(src.trackers.get(i)));
            }
        }

        @Override
        public void close() throws IOException {
            relay.close();
            src.close();
        }
    }

    static Source twoDevices() throws IOException {
        return new Source()
                .add("disk", 4 << 20, 64 << 10, 1, MigrationEngineTest.FAST)
                .add("memory", 4 << 20, 64 << 10, 2, MigrationEngineTest.FAST);
    }

    /** At least 6 dirty rounds per device (a quiet round needs fewer than 0 dirty blocks: never). */
    static final io.drafter.migration.source.DirtyPolicy SIX_ROUNDS =
            new io.drafter.migration.source.DirtyPolicy(0, 0, 6, Duration.ofMillis(20));

    /** The error code the peer reported, the cause of {@code e}: its ERROR frame. */
    static ErrorCode reportedCode(MigrationException e) {
        ProtocolException p = assertInstanceOf(ProtocolException.class, e.getCause(), e.getMessage());
        assertTrue(p.fromPeer(), "reported by the peer: " + e.getMessage());
        return p.code();
    }

    static Predicate<Frame> is(Class<? extends Frame> type) {
        return type::isInstance;
    }

    static void assertReadsFail(Map<String, WaitingDevice> devices) {
        // A read of a block that never arrived fails at once instead of hanging.
        for (WaitingDevice d : devices.values()) {
            long missing = -1;
            for (long b = 0; b < d.blockCount(); b++) {
                if (!d.isPresent(b)) {
                    missing = b;
                    break;
                }
            }
            if (missing >= 0) {
                long m = missing;
                IOException e = assertThrows(IOException.class, () -> TestDevices.block(d, m));
                assertTrue(e.getMessage().contains("could not"), e.getMessage());
            }
        }
    }

    @Test
    void connectionLostDuringFullCopyLeavesSourceAuthoritative() throws Exception {
        try (Run run =
                new Run(twoDevices(), Rule.on(Way.TO_DESTINATION, is(Frame.BlockData.class), 20, Action.DROP), WAIT)) {
            MigrationException s = run.sourceFailure();
            assertEquals(Authority.SOURCE, s.authority());
            assertEquals("FULL_COPY", s.phase());
            MigrationException d = run.destinationFailure();
            assertEquals(Authority.SOURCE, d.authority());
            assertTrue(d.getMessage().contains("partial copy is discarded"), d.getMessage());
            assertEquals(List.of("disk", "memory"), run.storage.discarded);
            assertEquals(0, run.src.suspends);
            run.assertSourceUnchanged();
            assertEquals(SourcePhase.FAILED, run.source.phase());
        }
    }

    @Test
    void connectionLostDuringDirtyRoundsLeavesWritersRunning() throws Exception {
        Source src = new Source()
                .add("disk", 4 << 20, 64 << 10, 1, SIX_ROUNDS)
                .add("memory", 4 << 20, 64 << 10, 2, SIX_ROUNDS)
                .startWriters(5);
        // Policy: at least 6 rounds 20 ms apart, so a drop after the second round lands well inside DIRTY_ROUNDS.
        // (A relay rule on frames would fire late: the relay may lag the source by a few rounds.)
        try (Run run = new Run(src, Rule.on(Way.TO_SOURCE, f -> false, 1, Action.DROP), WAIT)) {
            run.awaitDirtyRounds(2);
            run.relay.drop();
            MigrationException s = run.sourceFailure();
            assertEquals(Authority.SOURCE, s.authority());
            assertEquals("DIRTY_ROUNDS", s.phase());
            run.destinationFailure();
            assertEquals(0, src.suspends, "never suspended");
            src.writers.awaitMoreWrites(WAIT); // the source keeps running
            src.writers.stop();
        }
    }

    @Test
    void connectionLostWhileSuspendedResumesTheSource() throws Exception {
        Source src = twoDevices();
        AtomicInteger calls = new AtomicInteger();
        try (Run run = new Run(src, Rule.on(Way.TO_SOURCE, f -> false, 1, Action.DROP), WAIT)) {
            src.duringSuspend = () -> {
                calls.incrementAndGet();
                run.relay.drop();
                // The source sees the drop while it is still SUSPENDING (bounded: past it, the phase check below
                // fails).
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                try {
                    while (run.source.phase() != SourcePhase.FAILED && System.nanoTime() < deadline) {
                        Thread.sleep(5);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            MigrationException s = run.sourceFailure();
            assertEquals(Authority.SOURCE, s.authority());
            assertEquals("SUSPENDING", s.phase());
            assertEquals(1, calls.get());
            assertEquals(1, src.resumes, "the source resumed its writers: it still owns the devices");
            run.destinationFailure();
            assertEquals(List.of("disk", "memory"), run.storage.discarded);
            run.assertSourceUnchanged();
        }
    }

    /** Writes {@code blocks} blocks of device 0 during the suspend hook: a final dirty set to send after AUTHORITY. */
    static void dirtyDuringSuspend(Source src, int blocks) {
        src.duringSuspend = () -> {
            try {
                for (int b = 0; b < blocks; b++) {
                    src.tops.get(0).write(ByteBuffer.wrap(new byte[64 << 10]).put(0, (byte) 7), b * (64L << 10));
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
    }

    @Test
    void connectionLostWhenAuthorityIsSentResumesTheSource() throws Exception {
        Source src = twoDevices();
        try (Run run = new Run(src, Rule.on(Way.TO_DESTINATION, is(Frame.Authority.class), 1, Action.DROP), WAIT)) {
            MigrationException s = run.sourceFailure();
            assertEquals(Authority.SOURCE, s.authority(), s.getMessage());
            assertEquals("AUTHORITY_SENT", s.phase());
            assertEquals(1, src.resumes, "no GRANT was written: the engine resumes the writers");
            assertEquals(SourcePhase.FAILED, run.source.phase());
            MigrationException d = run.destinationFailure();
            assertEquals(Authority.SOURCE, d.authority(), "the destination never got authority");
            assertEquals(List.of("disk", "memory"), run.storage.discarded);
            run.assertSourceUnchanged();
        }
    }

    @Test
    void destinationGoneAfterAuthorityBeforeItsTakeoverResumesTheSource() throws Exception {
        Source src = twoDevices();
        dirtyDuringSuspend(src, 10);
        // The relay drops the link when the destination acknowledges authority: its TAKEOVER never reaches the source.
        try (Run run = new Run(src, Rule.on(Way.TO_SOURCE, is(Frame.AuthorityAck.class), 1, Action.DROP), WAIT)) {
            MigrationException s = run.sourceFailure();
            assertEquals(Authority.SOURCE, s.authority(), s.getMessage());
            assertFalse(run.source.granted());
            assertEquals(1, src.resumes, "the engine resumes the writers");
            MigrationException d = run.destinationFailure();
            assertEquals(Authority.SOURCE, d.authority(), d.getMessage());
            assertEquals(List.of("disk", "memory"), run.storage.discarded, "the partial copy is discarded");
            assertReadsFail(run.dst.awaitDevices(WAIT));
            assertEquals(DestinationPhase.FAILED, run.dst.phase());
            assertFalse(run.destinationPhases.contains(DestinationPhase.GRANTED));
        }
    }

    @Test
    void destinationGoneAfterItsTakeoverBeforeTheGrantResumesTheSource() throws Exception {
        Source src = twoDevices();
        // 40 final blocks and a window of 4: the TAKEOVER reaches the source long before it could send the GRANT, and
        // no credit follows it.
        dirtyDuringSuspend(src, 40);
        try (Run run =
                new Run(src, Rule.on(Way.TO_SOURCE, is(Frame.Takeover.class), 1, Action.FORWARD_THEN_DROP), WAIT)) {
            MigrationException s = run.sourceFailure();
            assertEquals(Authority.SOURCE, s.authority(), s.getMessage());
            assertFalse(run.source.granted());
            assertEquals(1, src.resumes, "the engine resumes the writers");
            MigrationException d = run.destinationFailure();
            assertTrue(d.getMessage().contains("do not run the VM here"), d.getMessage());
            assertEquals(Authority.SOURCE, d.authority());
            assertEquals(List.of("disk", "memory"), run.storage.discarded);
            assertFalse(run.destinationPhases.contains(DestinationPhase.GRANTED));
        }
    }

    @Test
    void aGrantLostOnTheWayLeavesBothSidesStopped() throws Exception {
        Source src = twoDevices();
        dirtyDuringSuspend(src, 10);
        try (Run run = new Run(
                src,
                Rule.on(Way.TO_DESTINATION, is(Frame.Grant.class), 1, Action.DROP),
                WAIT,
                o -> o.withExplicitTakeover(true))) {
            Map<String, WaitingDevice> devices = run.dst.awaitResumable(WAIT).devices();
            MigrationException taken = assertThrows(MigrationException.class, () -> run.dst.takeOver(WAIT));
            assertTrue(taken.getMessage().contains("the source did not confirm the hand-over"), taken.getMessage());
            assertTrue(taken.getMessage().contains("do not run the VM here"), taken.getMessage());
            assertEquals(Authority.SOURCE, run.dst.authority());
            assertFalse(run.destinationPhases.contains(DestinationPhase.GRANTED), "never granted here");
            assertEquals(List.of("disk", "memory"), run.storage.discarded, "the partial copy is discarded");
            assertReadsFail(devices);

            MigrationException s = run.sourceFailure();
            assertEquals(Authority.UNCERTAIN, s.authority(), s.getMessage());
            assertEquals("GRANTED", s.phase());
            assertTrue(run.source.granted());
            assertTrue(s.getMessage().contains("this side does not resume it"), s.getMessage());
            assertEquals(0, src.resumes, "after the grant the engine never resumes on its own");
            // The operator knows that the destination is stopped: the source takes the VM back.
            run.source.resumeSource();
            assertEquals(SourcePhase.RESUMED, run.source.phase());
            assertEquals(1, src.resumes);
        }
    }

    @Test
    void stalledConnectionTripsTheWatchdogOnBothSides() throws Exception {
        Duration stall = Duration.ofMillis(500);
        try (Run run = new Run(
                twoDevices(), Rule.on(Way.TO_DESTINATION, is(Frame.BlockData.class), 10, Action.STALL), stall)) {
            MigrationException s = run.sourceFailure();
            assertEquals(Authority.SOURCE, s.authority());
            assertTrue(s.getMessage().contains("no frame from destination"), s.getMessage());
            MigrationException d = run.destinationFailure();
            assertTrue(d.getMessage().contains("no frame from source"), d.getMessage());
            assertInstanceOf(ProtocolException.class, d.getCause());
            assertEquals(ErrorCode.TIMEOUT, ((ProtocolException) d.getCause()).code());
            run.assertSourceUnchanged();
        }
    }

    /** Without a token frames travel in clear: the decoder behind them rejects a changed field by name. */
    @Test
    void corruptFrameIsRejectedWithATypedError() throws Exception {
        Rule rule = new Rule(
                Way.TO_DESTINATION, is(Frame.BlockData.class), 3, Action.CORRUPT, frame -> frame[4 + 1 + 2 + 8] = 9);
        try (Run run = new Run(twoDevices(), rule, WAIT, o -> o, null)) {
            MigrationException d = run.destinationFailure();
            assertEquals(ErrorCode.MALFORMED_FRAME, ((ProtocolException) d.getCause()).code());
            assertTrue(d.getMessage().contains("encoding 9 unknown"), d.getMessage());
            MigrationException s = run.sourceFailure();
            assertEquals(Authority.SOURCE, s.authority());
            assertEquals(ErrorCode.MALFORMED_FRAME, reportedCode(s));
            run.assertSourceUnchanged();
        }
    }

    @Test
    void wrongTokenIsRefusedBeforeAnyDeviceData() throws Exception {
        Source src = twoDevices();
        Loopback.Pair pair = Loopback.plain();
        RecordingStorage storage = new RecordingStorage();
        Migration m = Migration.start(
                pair,
                storage,
                DestinationOptions.defaults().withToken(TOKEN),
                src.devices,
                SourceOptions.defaults().withToken(SharedToken.of("a different secret token")),
                src);
        MigrationDestination dst = m.destination();
        MigrationSource source = m.source();
        // The destination proves first, so the source is the one that finds the mismatch.
        MigrationException s = assertThrows(MigrationException.class, () -> source.awaitCompleted(WAIT));
        assertTrue(s.getMessage().contains("does not know the shared token"), s.getMessage());
        MigrationException d = assertThrows(MigrationException.class, () -> dst.awaitCompleted(WAIT));
        assertEquals(ErrorCode.AUTH_FAILED, reportedCode(d));
        assertEquals(Authority.SOURCE, s.authority());
        assertEquals(List.of(), storage.opened, "no device was announced to an unauthenticated peer");
        src.close();
    }

    @Test
    void tokenOnOneSideOnlyIsRefused() throws Exception {
        Source src = twoDevices();
        Loopback.Pair pair = Loopback.plain();
        Migration m = Migration.start(
                pair,
                new RecordingStorage(),
                DestinationOptions.defaults().withToken(TOKEN),
                src.devices,
                SourceOptions.defaults().withPlainTcpAllowed(true),
                src);
        MigrationDestination dst = m.destination();
        MigrationSource source = m.source();
        MigrationException d = assertThrows(MigrationException.class, () -> dst.awaitCompleted(WAIT));
        assertTrue(d.getMessage().contains("did not offer the shared token"), d.getMessage());
        assertThrows(MigrationException.class, () -> source.awaitCompleted(WAIT));
        src.close();
    }

    @Test
    void plainTcpWithoutTokenNeedsExplicitOptIn() throws Exception {
        Source src = twoDevices();
        Loopback.Pair pair = Loopback.plain();
        IOException s = assertThrows(
                IOException.class,
                () -> MigrationSource.start(pair.source(), src.devices, SourceOptions.defaults(), src, null));
        assertTrue(s.getMessage().contains("plain TCP without a shared token"), s.getMessage());
        IOException d = assertThrows(
                IOException.class,
                () -> MigrationDestination.accept(
                        pair.destination(), new RecordingStorage(), DestinationOptions.defaults(), null));
        assertTrue(d.getMessage().contains("plain TCP without a shared token"), d.getMessage());
        pair.source().close();
        pair.destination().close();
        src.close();
    }

    @Test
    void destinationRefusesAnotherProtocolVersion() throws Exception {
        Loopback.Pair pair = Loopback.plain();
        RecordingStorage storage = new RecordingStorage();
        MigrationDestination dst = MigrationDestination.accept(
                pair.destination(), storage, DestinationOptions.defaults().withPlainTcpAllowed(true), null);
        FrameProxy out = new FrameProxy(pair.source().output());
        out.sendNow(new Frame.Hello(FrameCodec.VERSION + 1, 0, new byte[32]));
        Frame reply = new FrameAdapter(pair.source().input(), "test").read();
        Frame.Error e = assertInstanceOf(Frame.Error.class, reply);
        assertEquals(ErrorCode.UNSUPPORTED_VERSION, e.code());
        assertTrue(e.message().contains("speaks protocol version " + (FrameCodec.VERSION + 1)), e.message());
        MigrationException d = assertThrows(MigrationException.class, () -> dst.awaitCompleted(WAIT));
        assertTrue(d.getMessage().contains("protocol version"), d.getMessage());
        assertEquals(List.of(), storage.opened);
        pair.source().close();
    }

    @Test
    void sourceRefusesAnotherProtocolVersion() throws Exception {
        Source src = twoDevices();
        Loopback.Pair pair = Loopback.plain();
        MigrationSource source = MigrationSource.start(
                pair.source(), src.devices, SourceOptions.defaults().withPlainTcpAllowed(true), src, null);
        FrameAdapter in = new FrameAdapter(pair.destination().input(), "test");
        assertInstanceOf(Frame.Hello.class, in.read());
        new FrameProxy(pair.destination().output()).sendNow(new Frame.HelloReply(7, 0, new byte[32]));
        MigrationException s = assertThrows(MigrationException.class, () -> source.awaitCompleted(WAIT));
        assertTrue(s.getMessage().contains("speaks protocol version 7"), s.getMessage());
        assertEquals(Authority.SOURCE, s.authority());
        Frame.Error e = assertInstanceOf(Frame.Error.class, in.read());
        assertEquals(ErrorCode.UNSUPPORTED_VERSION, e.code());
        pair.destination().close();
        src.close();
    }

    @Test
    void theSourceProvesItsTokenOnlyAfterTheDestinationDid() throws Exception {
        Source src = twoDevices();
        Loopback.Pair pair = Loopback.plain();
        MigrationSource source = MigrationSource.start(
                pair.source(), src.devices, SourceOptions.defaults().withToken(TOKEN), src, null);
        FrameAdapter in = new FrameAdapter(pair.destination().input(), "test");
        FrameProxy out = new FrameProxy(pair.destination().output());
        Frame.Hello hello = assertInstanceOf(Frame.Hello.class, in.read());
        assertEquals(FrameCodec.VERSION, hello.version());
        out.sendNow(new Frame.HelloReply(FrameCodec.VERSION, FrameCodec.FLAG_TOKEN, new byte[32]));
        // A guess instead of the proof: the source answers with an error, never with its own proof.
        out.sendNow(new Frame.AuthProof(new byte[32]));
        Frame.Error e = assertInstanceOf(Frame.Error.class, in.read());
        assertEquals(ErrorCode.AUTH_FAILED, e.code());
        assertTrue(e.message().contains("does not know the shared token"), e.message());
        MigrationException s = assertThrows(MigrationException.class, () -> source.awaitCompleted(WAIT));
        assertEquals(Authority.SOURCE, s.authority());
        assertEquals(0, src.suspends);
        pair.destination().close();
        src.close();
    }

    @Test
    void truncatedHandshakeIsAClearError() throws Exception {
        Loopback.Pair pair = Loopback.plain();
        RecordingStorage storage = new RecordingStorage();
        MigrationDestination dst = MigrationDestination.accept(
                pair.destination(), storage, DestinationOptions.defaults().withPlainTcpAllowed(true), null);
        ByteBuffer hello = FrameCodec.encode(new Frame.Hello(FrameCodec.VERSION, 0, new byte[32]));
        OutputStream out = pair.source().output();
        out.write(hello.array(), 0, 10);
        out.flush();
        pair.source().close();
        MigrationException d = assertThrows(MigrationException.class, () -> dst.awaitCompleted(WAIT));
        assertTrue(d.getMessage().contains("closed inside a frame (6 of 41 bytes)"), d.getMessage());
        assertEquals("HANDSHAKE", d.phase());
        assertEquals(List.of(), storage.opened);
    }

    @Test
    void garbageInsteadOfHelloIsRefused() throws Exception {
        Loopback.Pair pair = Loopback.plain();
        MigrationDestination dst = MigrationDestination.accept(
                pair.destination(),
                new RecordingStorage(),
                DestinationOptions.defaults().withPlainTcpAllowed(true),
                null);
        pair.source().output().write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
        MigrationException d = assertThrows(MigrationException.class, () -> dst.awaitCompleted(WAIT));
        assertTrue(d.getMessage().contains("length"), d.getMessage());
        pair.source().close();
    }

    @Test
    void deviceMismatchIsReportedOnBothSides() throws Exception {
        Source src = twoDevices();
        Loopback.Pair pair = Loopback.plain();
        var expected = Map.<String, BlockDevice>of(
                "disk", new io.drafter.storage.source.MemoryBlockDevice("disk", 4 << 20, 64 << 10),
                "memory", new io.drafter.storage.source.MemoryBlockDevice("memory", 8 << 20, 64 << 10));
        Migration m = Migration.start(
                pair,
                DestinationStorage.expecting(expected, true),
                DestinationOptions.defaults().withToken(TOKEN),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
        MigrationDestination dst = m.destination();
        MigrationSource source = m.source();
        MigrationException s = assertThrows(MigrationException.class, () -> source.awaitCompleted(WAIT));
        assertEquals(ErrorCode.DEVICE_MISMATCH, reportedCode(s));
        assertTrue(s.getMessage().contains("device \"memory\" has 8388608 bytes"), s.getMessage());
        MigrationException d = assertThrows(MigrationException.class, () -> dst.awaitCompleted(WAIT));
        assertTrue(d.getMessage().contains("device \"memory\""), d.getMessage());
        src.close();
    }

    @Test
    void destinationStorageRefusesTheGroupBeforeAnyDataMoves() throws Exception {
        Source src = twoDevices().startWriters(13);
        List<List<DeviceSpec>> prepared = Collections.synchronizedList(new ArrayList<>());
        RecordingStorage storage = new RecordingStorage() {
            @Override
            public void prepare(List<DeviceSpec> devices) throws IOException {
                prepared.add(devices);
                throw new IOException("not enough space in /var/lib/drafter: 3 MiB free, 8 MiB needed");
            }
        };
        Migration m = Migration.start(
                Loopback.plain(),
                storage,
                DestinationOptions.defaults().withToken(TOKEN),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
        MigrationException s =
                assertThrows(MigrationException.class, () -> m.source().awaitCompleted(WAIT));
        assertEquals(ErrorCode.STORAGE_ERROR, reportedCode(s));
        assertTrue(s.getMessage().contains("not enough space in /var/lib/drafter: 3 MiB free"), s.getMessage());
        assertFalse(s.getMessage().contains("\n"), "one line: " + s.getMessage());
        assertEquals(Authority.SOURCE, s.authority());
        assertEquals("HANDSHAKE", s.phase());
        assertEquals(1, prepared.size(), "prepared once, with the whole group");
        assertEquals(
                List.of("disk", "memory"),
                prepared.get(0).stream().map(DeviceSpec::name).toList());
        assertEquals(List.of(), storage.opened, "nothing opened");
        assertEquals(0, src.suspends, "never suspended");
        assertEquals(0, src.resumes);
        src.writers.awaitMoreWrites(WAIT); // the source keeps running
        src.writers.stop();
        src.close();
    }

    @Test
    void aProtocolErrorFromPrepareKeepsItsCode() throws Exception {
        Source src = twoDevices();
        RecordingStorage storage = new RecordingStorage() {
            @Override
            public void prepare(List<DeviceSpec> devices) throws IOException {
                throw new ProtocolException(ErrorCode.DEVICE_MISMATCH, "this peer takes no device named \"disk\"");
            }
        };
        Migration m = Migration.start(
                Loopback.plain(),
                storage,
                DestinationOptions.defaults().withToken(TOKEN),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
        MigrationException s =
                assertThrows(MigrationException.class, () -> m.source().awaitCompleted(WAIT));
        assertEquals(ErrorCode.DEVICE_MISMATCH, reportedCode(s));
        assertTrue(s.getMessage().contains("no device named \"disk\""), s.getMessage());
        assertEquals(0, src.suspends);
        src.close();
    }

    @Test
    void abortAtTheSourceTellsTheDestination() throws Exception {
        Source src = twoDevices().startWriters(9);
        Loopback.Pair pair = Loopback.plain();
        RecordingStorage storage = new RecordingStorage();
        Migration m = Migration.start(
                pair,
                storage,
                DestinationOptions.defaults().withToken(TOKEN),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
        MigrationDestination dst = m.destination();
        MigrationSource source = m.source();
        dst.awaitDevices(WAIT);
        source.abort();
        MigrationException d = assertThrows(MigrationException.class, () -> dst.awaitCompleted(WAIT));
        assertEquals(ErrorCode.ABORTED, reportedCode(d));
        assertEquals(Authority.SOURCE, source.authority());
        src.writers.stop();
        src.close();
    }
}
