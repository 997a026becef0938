package io.drafter.migration.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.engine.MigrationEngineTest.Source;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameAdapter;
import io.drafter.migration.protocol.FrameCodec;
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
import io.drafter.migration.testing.TestCerts;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.PemTls;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The source's listener under attack: every stray or hostile connection is refused with one log line and changes
 * nothing, and a legitimate migration through the same listener then succeeds with identical device contents. Also
 * the failures after authentication but before the grant, each followed by a successful retry.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MigrationListenerTest {
    static final Duration WAIT = Duration.ofSeconds(30);
    static final SharedToken TOKEN = MigrationEngineTest.TOKEN;
    static final String REFUSED = "refused migration connection from ";

    /** The listener's log lines, as its System.Logger hands them to java.util.logging. */
    static final class Lines extends Handler {
        final List<String> lines = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void publish(LogRecord r) {
            lines.add(r.getLevel() + " " + r.getMessage());
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }

    private final List<AutoCloseable> cleanup = new ArrayList<>();
    private final Lines log = new Lines();
    private Logger julLogger;

    @BeforeEach
    void captureLog() {
        julLogger = Logger.getLogger(MigrationListener.class.getName());
        julLogger.addHandler(log);
    }

    @AfterEach
    void cleanUp() {
        julLogger.removeHandler(log);
        Collections.reverse(cleanup);
        for (AutoCloseable c : cleanup) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort: the test result is decided already
            }
        }
    }

    <T extends AutoCloseable> T closeLater(T c) {
        cleanup.add(c);
        return c;
    }

    // ------------------------------------------------------------------ helpers

    MigrationListener listen(MigrationListener.Limits limits) throws IOException {
        return closeLater(MigrationListener.bind(
                Migration.anyLoopbackPort(), TransportSecurity.plainTcp(), TOKEN, false, limits));
    }

    /** A VM's devices with writers running; its suspend hook stops them and counts. */
    Source vm(long seed) throws IOException {
        Source src = new Source()
                .add("disk", 4 << 20, 64 << 10, seed, MigrationEngineTest.FAST)
                .add("memory", 1 << 20, 4096, seed + 1, MigrationEngineTest.FAST)
                .startWriters(seed);
        cleanup.add(() -> {
            if (src.writers != null) {
                try {
                    src.writers.stop();
                } catch (IllegalStateException ignored) {
                    // a writer failed on a closed device: the test is over
                }
            }
            src.close();
        });
        return src;
    }

    static DestinationOptions destination() {
        return DestinationOptions.defaults().withToken(TOKEN);
    }

    /**
     * A legitimate destination dials {@code l} and the VM migrates to it: the contents are identical on both sides,
     * the VM was suspended once more, and the session ended with the migration.
     */
    void migrateThrough(MigrationListener l, Source src, TransportSecurity security, DestinationOptions options)
            throws Exception {
        long refusedBefore = l.refusedCount();
        int suspendsBefore = src.suspends;
        Connection c = Transport.connect(l.address(), security, WAIT);
        MigrationDestination dst = MigrationDestination.accept(c, DestinationStorage.inMemory(), options, null);
        AuthenticatedDestination session = l.accept(WAIT);
        assertTrue(session.isOpen());
        // The source's own token options do not matter here: the listener authenticated the destination.
        MigrationSource source = MigrationSource.start(session, src.devices, SourceOptions.defaults(), src, null);
        MigrationDestination.Resumable r = dst.awaitResumable(WAIT);
        source.awaitCompleted(WAIT);
        dst.awaitCompleted(WAIT);
        MigrationEngineTest.assertSameContents(src, r.devices());
        assertEquals(SourcePhase.COMPLETED, source.phase());
        assertEquals(Authority.DESTINATION, source.authority());
        assertEquals(suspendsBefore + 1, src.suspends);
        assertFalse(session.isOpen(), "the session ends with the migration");
        assertEquals(refusedBefore, l.refusedCount(), "the legitimate destination was not refused");
    }

    void migrateThrough(MigrationListener l, Source src) throws Exception {
        migrateThrough(l, src, TransportSecurity.plainTcp(), destination());
    }

    /** Waits until {@code l} refused {@code n} connections (it counts just before it closes one). */
    static void awaitRefused(MigrationListener l, long n) throws InterruptedException {
        Await.until(WAIT, n + " refused connections", () -> l.refusedCount() >= n, () -> l.refusedCount() + " refused");
        assertEquals(n, l.refusedCount());
    }

    /** The refusal lines logged so far; asserts that the listener logged nothing else. */
    List<String> refusals() {
        List<String> all = List.copyOf(log.lines);
        List<String> refusals =
                all.stream().filter(s -> s.startsWith("WARNING " + REFUSED)).toList();
        assertEquals(all, refusals, "the listener logs only refusals");
        for (String line : refusals) {
            assertFalse(line.contains("\n"), "one line: " + line);
        }
        return refusals;
    }

    /**
     * Asserts exactly one refusal line per refused connection, the last naming {@code peer} (host and port, or only
     * the host when the port is not known here) and {@code reason}.
     */
    void assertRefusedOnce(MigrationListener l, String peer, String reason) {
        List<String> lines = refusals();
        assertEquals(l.refusedCount(), lines.size(), "one line per refused connection: " + lines);
        String last = lines.getLast();
        assertTrue(last.startsWith("WARNING " + REFUSED + peer + (peer.endsWith(":") ? "" : ": ")), last);
        assertTrue(last.contains(reason), "\"" + last + "\" says " + reason);
    }

    /** A raw TCP client that speaks frames by hand. */
    static final class Raw implements AutoCloseable {
        final Socket socket = new Socket();
        final FrameAdapter in;
        final OutputStream out;

        Raw(InetSocketAddress address) throws IOException {
            socket.connect(address, 10_000);
            in = new FrameAdapter(new BufferedInputStream(socket.getInputStream()), "listener");
            out = socket.getOutputStream();
        }

        String peer() {
            return "127.0.0.1:" + socket.getLocalPort();
        }

        Frame.Hello hello() throws IOException {
            Frame.Hello h = assertInstanceOf(Frame.Hello.class, in.read());
            assertEquals(FrameCodec.VERSION, h.version());
            assertEquals(FrameCodec.FLAG_TOKEN, h.flags() & FrameCodec.FLAG_TOKEN, "the listener asks for a token");
            return h;
        }

        void write(byte[] bytes) throws IOException {
            out.write(bytes);
            out.flush();
        }

        void send(Frame f) throws IOException {
            ByteBuffer b = FrameCodec.encode(f);
            write(Arrays.copyOf(b.array(), b.limit()));
        }

        /** Reads until the listener closes the connection; returns the last ERROR it sent before, if any. */
        Frame.Error untilClosed() {
            Frame.Error error = null;
            try {
                while (true) {
                    if (in.read() instanceof Frame.Error e) {
                        error = e;
                    }
                }
            } catch (IOException closed) {
                return error;
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    @FunctionalInterface
    interface Step {
        void run(Raw r) throws IOException;
    }

    /** One hostile client: what it does, what the refusal says, and the ERROR code it gets ({@code null}: may be lost). */
    record Attack(String name, Step step, String reason, ErrorCode told) {
        @Override
        public String toString() {
            return name;
        }
    }

    static byte[] helloReply(int version, int flags) {
        ByteBuffer b = FrameCodec.encode(new Frame.HelloReply(version, flags, new byte[FrameCodec.NONCE_BYTES]));
        return Arrays.copyOf(b.array(), b.limit());
    }

    static Stream<Attack> rawAttacks() {
        return Stream.of(
                new Attack(
                        "1 MiB of random bytes",
                        r -> {
                            byte[] junk = new byte[1 << 20];
                            new Random(1).nextBytes(junk);
                            try {
                                r.write(junk);
                            } catch (IOException refusedMidway) {
                                // the listener closed the connection after the first 4 bytes
                            }
                        },
                        "malformed frame: length",
                        null),
                new Attack(
                        "an HTTP request",
                        r -> r.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes()),
                        "malformed frame: length 1195725856 outside 1..2048",
                        null),
                new Attack(
                        "bad magic",
                        r -> {
                            r.hello();
                            byte[] reply = helloReply(FrameCodec.VERSION, FrameCodec.FLAG_TOKEN);
                            ByteBuffer.wrap(reply).putInt(5, 0x12345678);
                            r.write(reply);
                        },
                        "not a Drafter migration peer (magic 0x12345678)",
                        ErrorCode.BAD_MAGIC),
                new Attack(
                        "another protocol version",
                        r -> {
                            r.hello();
                            r.write(helloReply(7, FrameCodec.FLAG_TOKEN));
                        },
                        "speaks protocol version 7, this source speaks " + FrameCodec.VERSION,
                        ErrorCode.UNSUPPORTED_VERSION),
                new Attack(
                        "a truncated handshake",
                        r -> {
                            r.hello();
                            r.write(Arrays.copyOf(helloReply(FrameCodec.VERSION, FrameCodec.FLAG_TOKEN), 10));
                            r.socket.shutdownOutput();
                        },
                        "closed inside a frame (6 of 41 bytes)",
                        null),
                new Attack(
                        "a frame length of 0x7fffffff",
                        r -> {
                            r.hello();
                            r.write(ByteBuffer.allocate(4).putInt(0x7fffffff).array());
                        },
                        "malformed frame: length 2147483647 outside 1..2048",
                        ErrorCode.MALFORMED_FRAME),
                new Attack(
                        "no token",
                        r -> {
                            r.hello();
                            r.write(helloReply(FrameCodec.VERSION, 0));
                        },
                        "does not use a shared token",
                        ErrorCode.AUTH_FAILED),
                new Attack(
                        "a guessed token proof",
                        r -> {
                            r.hello();
                            r.write(helloReply(FrameCodec.VERSION, FrameCodec.FLAG_TOKEN));
                            r.send(new Frame.AuthProof(new byte[FrameCodec.MAC_BYTES]));
                        },
                        "does not know the shared token",
                        ErrorCode.AUTH_FAILED),
                new Attack(
                        "a device group instead of a proof",
                        r -> {
                            r.hello();
                            r.write(helloReply(FrameCodec.VERSION, FrameCodec.FLAG_TOKEN));
                            r.send(new Frame.GroupAccepted(4));
                        },
                        "unexpected frame GroupAccepted (expected AUTH_PROOF)",
                        ErrorCode.UNEXPECTED_FRAME));
    }

    // ------------------------------------------------------------------ attacks before authentication

    @ParameterizedTest(name = "{0}")
    @MethodSource("rawAttacks")
    void aHostileClientIsRefusedAndTheNextMigrationSucceeds(Attack attack) throws Exception {
        MigrationListener l = listen(MigrationListener.Limits.defaults());
        Source src = vm(11);
        String peer;
        Frame.Error told;
        try (Raw r = new Raw(l.address())) {
            peer = r.peer();
            attack.step().run(r);
            told = r.untilClosed();
        }
        awaitRefused(l, 1);
        assertRefusedOnce(l, peer, attack.reason());
        if (attack.told() != null) {
            assertEquals(attack.told(), told == null ? null : told.code(), "the client was told why");
        }
        assertEquals(0, src.suspends, "an attack never pauses the VM");
        assertEquals(0, l.pendingCount());

        migrateThrough(l, src);
        assertEquals(1, l.refusedCount());
        assertEquals(0, src.resumes);
    }

    @Test
    void aDestinationWithAnotherTokenIsRefused() throws Exception {
        MigrationListener l = listen(MigrationListener.Limits.defaults());
        Source src = vm(21);
        Connection c = Transport.connect(l.address(), TransportSecurity.plainTcp(), WAIT);
        MigrationDestination wrong = MigrationDestination.accept(
                c,
                DestinationStorage.inMemory(),
                DestinationOptions.defaults().withToken(SharedToken.of("a different secret token")),
                null);
        MigrationException d = assertThrows(MigrationException.class, () -> wrong.awaitCompleted(WAIT));
        assertEquals(ErrorCode.AUTH_FAILED, FaultInjectionTest.reportedCode(d));
        awaitRefused(l, 1);
        assertRefusedOnce(l, "127.0.0.1:", "does not know the shared token");
        assertEquals(0, src.suspends);

        migrateThrough(l, src);
    }

    @Test
    void aDestinationWithoutTheTokenIsRefused() throws Exception {
        MigrationListener l = listen(MigrationListener.Limits.defaults());
        Source src = vm(23);
        Connection c = Transport.connect(l.address(), TransportSecurity.plainTcp(), WAIT);
        MigrationDestination none = MigrationDestination.accept(
                c, DestinationStorage.inMemory(), DestinationOptions.defaults().withPlainTcpAllowed(true), null);
        MigrationException d = assertThrows(MigrationException.class, () -> none.awaitCompleted(WAIT));
        assertTrue(d.getMessage().contains("offers a shared token but this destination has none"), d.getMessage());
        awaitRefused(l, 1);
        assertRefusedOnce(l, "127.0.0.1:", "reported AUTH_FAILED");
        assertEquals(0, src.suspends);

        migrateThrough(l, src);
    }

    @Test
    void idleConnectionsBelowTheBoundDoNotHoldUpAMigration() throws Exception {
        MigrationListener l = listen(new MigrationListener.Limits(Duration.ofSeconds(60), 4));
        Source src = vm(31);
        List<Raw> idle = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Raw r = closeLater(new Raw(l.address()));
            r.hello(); // accepted and pending: it never answers
            idle.add(r);
        }
        assertEquals(3, l.pendingCount());
        migrateThrough(l, src);
        assertEquals(0, l.refusedCount());
        assertEquals(0, refusals().size());
        for (Raw r : idle) {
            r.close();
        }
        awaitRefused(l, 3);
        assertEquals(3, refusals().size());
        assertTrue(
                refusals().getLast().contains("connection closed by"),
                refusals().getLast());
    }

    @Test
    void connectionsOverTheBoundAreRefusedAtOnce() throws Exception {
        MigrationListener l = listen(new MigrationListener.Limits(Duration.ofSeconds(60), 4));
        Source src = vm(33);
        List<Raw> idle = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Raw r = closeLater(new Raw(l.address()));
            r.hello();
            idle.add(r);
        }
        assertEquals(4, l.pendingCount());
        String peer;
        try (Raw over = new Raw(l.address())) {
            peer = over.peer();
            // Closed without a HELLO: the listener spends nothing on it.
            assertEquals(null, over.untilClosed());
        }
        awaitRefused(l, 1);
        assertRefusedOnce(l, peer, "more than 4 unauthenticated connections at once");
        assertEquals(4, l.pendingCount());

        idle.removeFirst().close();
        awaitRefused(l, 2);
        Await.until(WAIT, "the closed connection no longer pending", () -> l.pendingCount() <= 3);
        migrateThrough(l, src);
        assertEquals(0, src.resumes);
    }

    @Test
    void idleAndTricklingConnectionsAreClosedAtTheHandshakeTimeout() throws Exception {
        MigrationListener l = listen(new MigrationListener.Limits(Duration.ofSeconds(2), 8));
        Source src = vm(35);
        List<Raw> idle = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Raw r = closeLater(new Raw(l.address()));
            r.hello();
            idle.add(r);
        }
        // A slow client: a valid frame length, then one byte every 50 ms; each read succeeds, the deadline still holds.
        Raw slow = closeLater(new Raw(l.address()));
        slow.hello();
        slow.write(ByteBuffer.allocate(4).putInt(2000).array());
        Thread trickler = Thread.ofPlatform().daemon().start(() -> {
            try {
                while (true) {
                    slow.write(new byte[] {1});
                    Thread.sleep(50); // the trickle's pace: one byte every 50 ms
                }
            } catch (IOException | InterruptedException closed) {
                // the listener closed it
            }
        });
        for (Raw r : idle) {
            assertEquals(null, r.untilClosed(), "closed by the listener");
        }
        assertEquals(null, slow.untilClosed());
        trickler.join();
        awaitRefused(l, 4);
        List<String> lines = refusals();
        assertEquals(4, lines.size());
        for (String line : lines) {
            assertTrue(line.contains("no authenticated handshake within 2.000 s"), line);
        }
        assertEquals(0, l.pendingCount());
        assertEquals(0, src.suspends);

        migrateThrough(l, src);
    }

    @Test
    void tlsClientsWithoutATrustedCertificateAreRefused() throws Exception {
        var certs = TestCerts.shared();
        TestCerts.Peer server = certs.source();
        TestCerts.Peer client = certs.destination();
        TransportSecurity serverTls = TransportSecurity.tls(PemTls.context(server.chain(), server.key(), server.ca()));
        TransportSecurity clientTls = TransportSecurity.tls(PemTls.context(client.chain(), client.key(), client.ca()));
        // TLS authenticates both sides: no token needed.
        MigrationListener l = closeLater(MigrationListener.bind(
                Migration.anyLoopbackPort(), serverTls, null, false, MigrationListener.Limits.defaults()));
        Source src = vm(41);

        // No certificate at all, but it trusts the listener's CA.
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("ca", PemTls.certificates(server.ca()).getFirst());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext noCert = SSLContext.getInstance("TLSv1.3");
        noCert.init(null, tmf.getTrustManagers(), null);
        tryTls(l.address(), TransportSecurity.tls(noCert));
        awaitRefused(l, 1);
        assertRefusedOnce(l, "127.0.0.1:", "could not complete TLS handshake");

        // A certificate of another CA (it trusts the real one, so only the listener's check refuses it).
        TestCerts.Peer rogue =
                new TestCerts.Peer(certs.rogue().chain(), certs.rogue().key(), server.ca());
        tryTls(l.address(), TransportSecurity.tls(PemTls.context(rogue.chain(), rogue.key(), rogue.ca())));
        awaitRefused(l, 2);
        assertRefusedOnce(l, "127.0.0.1:", "could not complete TLS handshake");

        // Not TLS at all.
        try (Raw r = new Raw(l.address())) {
            r.write("hello, is anybody there?".getBytes());
            r.untilClosed();
        }
        awaitRefused(l, 3);
        assertRefusedOnce(l, "127.0.0.1:", "could not complete TLS handshake");
        assertEquals(0, src.suspends);

        migrateThrough(l, src, clientTls, DestinationOptions.defaults());
    }

    /** Connects with {@code security} and reads until the listener closes the connection. */
    static void tryTls(InetSocketAddress address, TransportSecurity security) {
        try (Connection c = Transport.connect(address, security, WAIT)) {
            // TLS 1.3: the client may learn of its rejection only when it reads.
            while (c.input().read() >= 0) {
                // the listener does not send anything to an unauthenticated client before its HELLO
            }
        } catch (IOException refused) {
            // how the client learns it (alert, reset) depends on timing
        }
    }

    @Test
    void aSecondDestinationWhileAMigrationRunsIsToldBusy() throws Exception {
        MigrationListener l = listen(MigrationListener.Limits.defaults());
        Source first = vm(51);
        Connection c1 = Transport.connect(l.address(), TransportSecurity.plainTcp(), WAIT);
        // The first destination holds the migration open: it does not ask for the grant until told.
        MigrationDestination dst1 = MigrationDestination.accept(
                c1, DestinationStorage.inMemory(), destination().withExplicitTakeover(true), null);
        AuthenticatedDestination session = l.accept(WAIT);
        MigrationSource source1 = MigrationSource.start(session, first.devices, SourceOptions.defaults(), first, null);
        MigrationDestination.Resumable r1 = dst1.awaitResumable(WAIT);

        Connection c2 = Transport.connect(l.address(), TransportSecurity.plainTcp(), WAIT);
        MigrationDestination dst2 = MigrationDestination.accept(c2, DestinationStorage.inMemory(), destination(), null);
        MigrationException busy = assertThrows(MigrationException.class, () -> dst2.awaitCompleted(WAIT));
        assertTrue(busy.getMessage().contains("reported BUSY: another migration is in progress"), busy.getMessage());
        awaitRefused(l, 1);
        assertRefusedOnce(l, "127.0.0.1:", "another migration is in progress");
        assertEquals(SourcePhase.AUTHORITY_SENT, source1.phase(), "the running migration is not disturbed");

        dst1.takeOver(WAIT);
        dst1.confirmTakeover();
        source1.awaitCompleted(WAIT);
        MigrationEngineTest.assertSameContents(first, r1.devices());
        assertFalse(session.isOpen());

        // The listener is free again.
        migrateThrough(l, vm(53));
        assertEquals(1, l.refusedCount());
    }

    // ------------------------------------------------------------------ failures after authentication

    /** Migrates {@code src} through a relay in front of {@code l} that fails as {@code rule} says. */
    MigrationException failThrough(MigrationListener l, Source src, Rule rule, DestinationOptions options)
            throws Exception {
        FrameRelay relay = closeLater(FrameRelay.toSource(l.address(), rule, TOKEN));
        Connection c = Transport.connect(relay.address(), TransportSecurity.plainTcp(), WAIT);
        MigrationDestination dst = MigrationDestination.accept(c, DestinationStorage.inMemory(), options, null);
        AuthenticatedDestination session = l.accept(WAIT);
        MigrationSource source = MigrationSource.start(session, src.devices, SourceOptions.defaults(), src, null);
        MigrationException e = assertThrows(MigrationException.class, () -> source.awaitCompleted(WAIT));
        assertEquals(Authority.SOURCE, e.authority(), e.getMessage());
        assertEquals(SourcePhase.FAILED, source.phase());
        assertFalse(source.granted());
        assertFalse(session.isOpen(), "a failed migration frees the listener");
        MigrationException d = assertThrows(MigrationException.class, () -> dst.awaitCompleted(WAIT));
        assertEquals(Authority.SOURCE, d.authority(), d.getMessage());
        assertEquals(0, l.refusedCount(), "an authenticated destination that fails is not a refused connection");
        return e;
    }

    @Test
    void destinationLostDuringPreCopyThenTheNextMigrationSucceeds() throws Exception {
        MigrationListener l = listen(MigrationListener.Limits.defaults());
        Source src = vm(61);
        // A window of 4 blocks per device: the source cannot run ahead of the relay into the dirty rounds.
        MigrationException e = failThrough(
                l,
                src,
                Rule.on(Way.TO_DESTINATION, Frame.BlockData.class::isInstance, 20, Action.DROP),
                destination().withWindowBytes(256 << 10));
        assertEquals("FULL_COPY", e.phase());
        assertEquals(0, src.suspends, "never suspended");
        assertEquals(0, src.resumes);
        src.writers.awaitMoreWrites(WAIT); // the VM still runs
        migrateThrough(l, src);
    }

    @Test
    void destinationLostAfterAuthorityBeforeItsTakeoverThenTheNextMigrationSucceeds() throws Exception {
        MigrationListener l = listen(MigrationListener.Limits.defaults());
        Source src = vm(63);
        MigrationException e = failThrough(
                l,
                src,
                Rule.on(Way.TO_DESTINATION, Frame.Authority.class::isInstance, 1, Action.FORWARD_THEN_DROP),
                destination());
        assertEquals("AUTHORITY_SENT", e.phase());
        assertEquals(1, src.suspends);
        assertEquals(1, src.resumes, "resumed exactly once, by the engine");
        src.startWriters(163); // the VM runs again
        migrateThrough(l, src);
        assertEquals(1, src.resumes);
    }

    @Test
    void destinationLostAfterItsTakeoverBeforeTheGrantThenTheNextMigrationSucceeds() throws Exception {
        MigrationListener l = listen(MigrationListener.Limits.defaults());
        Source src = vm(65);
        // 48 final blocks and a window of 4: the TAKEOVER arrives long before the source could grant, and no credit
        // follows it.
        src.duringSuspend = () -> {
            try {
                byte[] data = new byte[64 << 10];
                for (int b = 0; b < 48; b++) {
                    data[0] = (byte) (src.suspends + b);
                    src.tops.get(0).write(ByteBuffer.wrap(data), b * (64L << 10));
                }
            } catch (IOException x) {
                throw new java.io.UncheckedIOException(x);
            }
        };
        MigrationException e = failThrough(
                l,
                src,
                Rule.on(Way.TO_SOURCE, Frame.Takeover.class::isInstance, 1, Action.FORWARD_THEN_DROP),
                destination().withWindowBytes(4 * (64 << 10)));
        assertEquals("AUTHORITY_SENT", e.phase());
        assertEquals(1, src.suspends);
        assertEquals(1, src.resumes, "resumed exactly once, by the engine");
        src.startWriters(165);
        migrateThrough(l, src);
        assertEquals(1, src.resumes);
    }

    // ------------------------------------------------------------------ the listener itself

    @Test
    void bindingAndClosing() throws Exception {
        MigrationListener l = listen(MigrationListener.Limits.defaults());
        IOException taken = assertThrows(
                IOException.class,
                () -> MigrationListener.bind(
                        l.address(), TransportSecurity.plainTcp(), TOKEN, false, MigrationListener.Limits.defaults()));
        assertTrue(taken.getMessage().startsWith("could not listen on " + l.address()), taken.getMessage());
        IOException plain = assertThrows(
                IOException.class,
                () -> MigrationListener.bind(
                        Migration.anyLoopbackPort(),
                        TransportSecurity.plainTcp(),
                        null,
                        false,
                        MigrationListener.Limits.defaults()));
        assertTrue(plain.getMessage().contains("plain TCP without a shared token"), plain.getMessage());
        SocketTimeoutException none = assertThrows(SocketTimeoutException.class, () -> l.accept(Duration.ofMillis(1)));
        assertTrue(none.getMessage().contains("no destination authenticated"), none.getMessage());

        Raw idle = closeLater(new Raw(l.address()));
        idle.hello();
        l.close();
        assertEquals(null, idle.untilClosed(), "closing the listener closes unauthenticated connections");
        IOException closed = assertThrows(IOException.class, () -> l.accept(WAIT));
        assertTrue(closed.getMessage().contains("the listener is closed"), closed.getMessage());
        assertEquals(0, l.refusedCount(), "closing is not refusing");
        assertThrows(
                IOException.class,
                () -> {
                    try (Socket s = new Socket()) {
                        s.connect(l.address(), 2000);
                    }
                },
                "unbound");
    }
}
