package io.drafter.migration.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.destination.DestinationCounters;
import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.source.DirtyPolicy;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceDevice;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.source.SuspendHook;
import io.drafter.migration.testing.Loopback;
import io.drafter.migration.testing.Migration;
import io.drafter.migration.testing.TestCerts;
import io.drafter.migration.testing.TestDevices;
import io.drafter.migration.testing.Writers;
import io.drafter.migration.transport.PemTls;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.ForwardingBlockDevice;
import io.drafter.storage.dirty.DirtyTrackingDevice;
import io.drafter.storage.volatility.VolatilityMonitor;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Two engines in one JVM over loopback TCP and TLS: whole migrations with writers running on the source. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MigrationEngineTest {
    static final Duration WAIT = Duration.ofSeconds(60);
    static final SharedToken TOKEN = SharedToken.of("correct horse battery staple");
    static final DirtyPolicy FAST = new DirtyPolicy(10, 1, 6, Duration.ofMillis(20));

    /** The source side of a test: devices with trackers, writers, and a hook that stops the writers. */
    static class Source implements SuspendHook {
        final List<DirtyTrackingDevice> trackers = new ArrayList<>();
        final List<BlockDevice> tops = new ArrayList<>();
        final List<SourceDevice> devices = new ArrayList<>();
        final List<String> events = Collections.synchronizedList(new ArrayList<>());
        Writers writers;
        volatile int suspends;
        volatile int resumes;
        Runnable duringSuspend = () -> {};

        Source add(String name, long size, int blockSize, long seed, DirtyPolicy policy) throws IOException {
            DirtyTrackingDevice t = TestDevices.tracked(name, size, blockSize, seed);
            VolatilityMonitor v = new VolatilityMonitor(t, Duration.ofSeconds(5));
            trackers.add(t);
            tops.add(v);
            devices.add(new SourceDevice(name, t, v, policy));
            return this;
        }

        Source startWriters(long seed) {
            writers = new Writers(tops, seed, 200);
            return this;
        }

        @Override
        public void suspend() throws Exception {
            suspends++;
            if (writers != null) {
                writers.stop();
            }
            duringSuspend.run();
        }

        @Override
        public void resume() {
            resumes++;
        }

        SourceListener listener() {
            return new SourceListener() {
                @Override
                public void onPhase(SourcePhase from, SourcePhase to, Duration timeInFrom) {
                    events.add(to.name());
                }
            };
        }

        void close() throws IOException {
            for (BlockDevice d : tops) {
                d.close();
            }
        }
    }

    /** A destination on {@code pair} that requires {@link #TOKEN}, storing in memory. */
    static MigrationDestination acceptWithToken(Loopback.Pair pair) throws IOException {
        return MigrationDestination.accept(
                pair.destination(),
                DestinationStorage.inMemory(),
                DestinationOptions.defaults().withToken(TOKEN),
                null);
    }

    static void assertSameContents(Source src, Map<String, WaitingDevice> dst) throws IOException {
        for (int i = 0; i < src.devices.size(); i++) {
            String name = src.devices.get(i).name();
            assertEquals(
                    TestDevices.sha256(src.trackers.get(i)),
                    TestDevices.sha256(dst.get(name)),
                    "SHA-256 of device " + name);
        }
    }

    static void assertClosedSoon(io.drafter.migration.transport.Connection c) throws InterruptedException {
        java.net.Socket socket = ((io.drafter.migration.transport.SocketConnection) c).socket();
        Await.until(
                Duration.ofSeconds(10), "the socket to " + c.peer() + " closed after the migration", socket::isClosed);
    }

    @Test
    void migratesSeveralDevicesOverTcpWithTokenWhileWritersRun() throws Exception {
        Source src = new Source()
                .add("disk", 8 << 20, 64 << 10, 1, FAST)
                .add("memory", 16 << 20, 64 << 10, 2, FAST)
                .add("state", 100_000, 4096, 3, FAST)
                .startWriters(42);
        Loopback.Pair pair = Loopback.plain();
        MigrationDestination dst = acceptWithToken(pair);
        MigrationSource source = MigrationSource.start(
                pair.source(),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN).withAuthorityPayload("vm-config".getBytes()),
                src,
                src.listener());

        MigrationDestination.Resumable r = dst.awaitResumable(WAIT);
        assertArrayEquals("vm-config".getBytes(), r.authorityPayload());
        SourceCounters sc = source.awaitCompleted(WAIT);
        DestinationCounters dc = dst.awaitCompleted(WAIT);

        assertTrue(src.writers.writes() > 0, "writers ran during pre-copy");
        assertSameContents(src, r.devices());
        assertEquals(SourcePhase.COMPLETED, source.phase());
        assertEquals(Authority.DESTINATION, source.authority());
        assertEquals(DestinationPhase.COMPLETED, dst.phase());
        assertEquals(
                List.of(
                        "FULL_COPY",
                        "DIRTY_ROUNDS",
                        "SUSPENDING",
                        "FINAL_SYNC",
                        "AUTHORITY_SENT",
                        "GRANTED",
                        "COMPLETED"),
                src.events);
        // Both ends close their socket once the migration completed (a long-lived peer must not leak one each time).
        assertClosedSoon(pair.source());
        assertClosedSoon(pair.destination());
        assertEquals(1, src.suspends);
        assertEquals(0, src.resumes);
        assertTrue(sc.rounds() >= 3, "dirty rounds ran: " + sc.rounds());
        assertTrue(sc.dirtyPerRound().get("disk").size() >= 2, "per-round counts: " + sc.dirtyPerRound());
        assertNotNull(sc.suspendToAuthority());
        assertNotNull(sc.suspendToGrant());
        assertTrue(source.granted());
        assertTrue(dc.blocksReceived() > 0);
        // Per device, the two sides agree on what went over, and the devices add up to the totals.
        assertEquals(sc.perDevice(), dc.perDevice(), "per device, sent and applied");
        assertEquals(
                dc.blocksReceived(),
                dc.perDevice().values().stream()
                        .mapToLong(io.drafter.migration.DeviceTraffic::blocks)
                        .sum());
        assertEquals(
                sc.blocksSent(),
                sc.perDevice().values().stream()
                        .mapToLong(io.drafter.migration.DeviceTraffic::blocks)
                        .sum());
        src.close();
    }

    @Test
    void migratesOverMutualTlsWithCompression() throws Exception {
        TestCerts.Peer server = TestCerts.shared().destination();
        TestCerts.Peer client = TestCerts.shared().source();
        var serverTls = TransportSecurity.tls(PemTls.context(server.chain(), server.key(), server.ca()));
        var clientTls = TransportSecurity.tls(PemTls.context(client.chain(), client.key(), client.ca()));

        Source src = new Source()
                .add("disk", 4 << 20, 64 << 10, 11, FAST)
                .add("memory", 6 << 20, 64 << 10, 12, FAST)
                .startWriters(7);
        // Make half of every block compressible so zstd has something to do.
        Loopback.Pair pair = Loopback.pair(clientTls, serverTls);
        assertTrue(pair.source().authenticatedTransport());
        Migration m = Migration.start(
                pair,
                DestinationStorage.inMemory(),
                DestinationOptions.defaults(),
                src.devices,
                SourceOptions.defaults().withCompression(true),
                src);
        MigrationDestination dst = m.destination();
        MigrationSource source = m.source();
        source.awaitCompleted(WAIT);
        MigrationDestination.Resumable r = dst.awaitResumable(WAIT);
        dst.awaitCompleted(WAIT);
        assertSameContents(src, r.devices());
        src.close();
    }

    @Test
    void compressesCompressibleBlocks() throws Exception {
        Source src = new Source();
        DirtyTrackingDevice t =
                new DirtyTrackingDevice(new io.drafter.storage.source.MemoryBlockDevice("text", 2 << 20, 64 << 10));
        byte[] text =
                "the quick brown fox jumps over the lazy dog. ".repeat(2000).getBytes();
        for (long off = 0; off < t.sizeBytes(); off += text.length) {
            t.write(ByteBuffer.wrap(text, 0, (int) Math.min(text.length, t.sizeBytes() - off)), off);
        }
        src.trackers.add(t);
        src.tops.add(t);
        src.devices.add(new SourceDevice("text", t, null, DirtyPolicy.NO_ROUNDS));
        Loopback.Pair pair = Loopback.plain();
        Migration m = Migration.start(
                pair,
                DestinationStorage.inMemory(),
                DestinationOptions.defaults().withPlainTcpAllowed(true),
                src.devices,
                SourceOptions.defaults().withCompression(true).withPlainTcpAllowed(true),
                src);
        MigrationDestination dst = m.destination();
        MigrationSource source = m.source();
        SourceCounters sc = source.awaitCompleted(WAIT);
        assertSameContents(src, dst.awaitResumable(WAIT).devices());
        assertTrue(sc.compressedBlocks() > 0, "blocks went compressed: " + sc);
        assertTrue(sc.bytesSent() < t.sizeBytes() / 4, "compression shrank the transfer: " + sc.bytesSent());
        src.close();
    }

    /** A layer that sleeps before each read and/or write: a slow source disk or a busy destination disk. */
    static final class Delayed extends ForwardingBlockDevice {
        private final long readMs;
        private final long writeMs;

        Delayed(BlockDevice d, long readMs, long writeMs) {
            super(d);
            this.readMs = readMs;
            this.writeMs = writeMs;
        }

        private static void pause(long ms) throws IOException {
            try {
                Thread.sleep(ms); // the layer's latency: a slow disk
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException();
            }
        }

        @Override
        public int read(ByteBuffer dst, long offsetBytes) throws IOException {
            pause(readMs);
            return super.read(dst, offsetBytes);
        }

        @Override
        public int write(ByteBuffer src, long offsetBytes) throws IOException {
            pause(writeMs);
            return super.write(src, offsetBytes);
        }
    }

    @Test
    void destinationReadsBlocksBeforeTheyArrive() throws Exception {
        var base = TestDevices.random("disk", 1024 * 4096L, 4096, 5, 0);
        DirtyTrackingDevice t = new DirtyTrackingDevice(new Delayed(base, 2, 0));
        Source src = new Source();
        src.trackers.add(t);
        src.tops.add(t);
        src.devices.add(new SourceDevice("disk", t, null, DirtyPolicy.NO_ROUNDS));
        Loopback.Pair pair = Loopback.plain();
        Migration m = Migration.start(
                pair,
                DestinationStorage.inMemory(),
                DestinationOptions.defaults().withToken(TOKEN).withWindowBytes(16 * 4096),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
        MigrationDestination dst = m.destination();
        MigrationSource source = m.source();
        WaitingDevice disk = dst.awaitDevices(WAIT).get("disk");
        // The full copy goes in block order at ~2 ms a block: the last blocks are seconds away.
        for (long b : new long[] {1023, 1000, 900, 777}) {
            assertFalse(disk.isPresent(b), "block " + b + " has not arrived yet");
            assertArrayEquals(TestDevices.block(base, b), TestDevices.block(disk, b), "block " + b);
        }
        assertTrue(disk.waitCount() >= 4, "reads waited: " + disk.waitCount());
        source.awaitCompleted(WAIT);
        assertTrue(source.counters().priorityBlocks() >= 4, "requested blocks jumped the queue");
        assertEquals(TestDevices.sha256(base), TestDevices.sha256(disk));
        src.close();
    }

    @Test
    void readsWhilePreparingGetTheFinalDirtyBlocks() throws Exception {
        Source src = new Source().add("memory", 8 << 20, 64 << 10, 9, FAST);
        Random r = new Random(3);
        long[] flushed = r.longs(60, 0, 128).distinct().toArray();
        // The "flush" of the suspend hook: guest memory pages land in the device after the VM paused.
        src.duringSuspend = () -> {
            try {
                for (long b : flushed) {
                    byte[] data = new byte[64 << 10];
                    r.nextBytes(data);
                    src.tops.get(0).write(ByteBuffer.wrap(data), b * (64 << 10));
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        Migration m = Migration.start(
                Loopback.plain(),
                DestinationStorage.inMemory(),
                DestinationOptions.defaults().withToken(TOKEN).withExplicitTakeover(true),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
        MigrationDestination dst = m.destination();
        MigrationSource source = m.source();
        MigrationDestination.Resumable res = dst.awaitResumable(WAIT);
        // Authority arrived, the grant did not: the destination prepares (reads), nothing runs yet.
        assertEquals(DestinationPhase.AUTHORITATIVE, dst.phase());
        assertEquals(Authority.SOURCE, dst.authority());
        WaitingDevice mem = res.devices().get("memory");
        for (long b : flushed) {
            assertArrayEquals(TestDevices.block(src.trackers.get(0), b), TestDevices.block(mem, b), "block " + b);
        }
        assertEquals(SourcePhase.AUTHORITY_SENT, source.phase(), "no grant before the destination asks");
        dst.takeOver(WAIT);
        dst.confirmTakeover();
        source.awaitCompleted(WAIT);
        dst.awaitCompleted(WAIT);
        assertSameContents(src, res.devices());
        assertEquals(
                flushed.length, source.counters().dirtyPerRound().get("memory").getLast());
        src.close();
    }

    @Test
    void theGrantArrivesOnlyAfterEveryBlock() throws Exception {
        int bs = 64 << 10;
        Source src = new Source().add("memory", 16 << 20, bs, 19, DirtyPolicy.NO_ROUNDS);
        Random r = new Random(5);
        // A final dirty set of 200 blocks and a window of 4 blocks: most of it is still to send when TAKEOVER comes.
        long[] flushed = r.longs(0, 256).distinct().limit(200).toArray();
        src.duringSuspend = () -> {
            try {
                byte[] data = new byte[bs];
                for (long b : flushed) {
                    r.nextBytes(data);
                    src.tops.get(0).write(ByteBuffer.wrap(data), b * bs);
                }
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        Migration m = Migration.start(
                Loopback.plain(),
                DestinationStorage.inMemory(),
                DestinationOptions.defaults()
                        .withToken(TOKEN)
                        .withExplicitTakeover(true)
                        .withWindowBytes(4 * bs),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
        MigrationDestination dst = m.destination();
        MigrationDestination.Resumable res = dst.awaitResumable(WAIT);
        dst.takeOver(WAIT);
        assertEquals(DestinationPhase.GRANTED, dst.phase());
        assertEquals(Authority.DESTINATION, dst.authority());
        for (WaitingDevice d : res.devices().values()) {
            assertTrue(d.isComplete(), "every block is here when the grant is");
        }
        assertSameContents(src, res.devices());
        assertTrue(m.source().granted());
        assertEquals(SourcePhase.GRANTED, m.source().phase());
        assertEquals(Authority.UNCERTAIN, m.source().authority(), "until the destination confirms that it runs");
        assertEquals(200, m.source().counters().dirtyPerRound().get("memory").getLast());
        dst.confirmTakeover();
        SourceCounters sc = m.source().awaitCompleted(WAIT);
        assertEquals(Authority.DESTINATION, m.source().authority());
        assertTrue(
                sc.suspendToGrant().compareTo(sc.suspendToAuthority()) >= 0,
                "the grant follows the acknowledgement of authority: " + sc);
        assertEquals(0, src.resumes);
        src.close();
    }

    @Test
    void withoutPostCopyTheDestinationIsResumableOnlyWhenComplete() throws Exception {
        Source src = new Source().add("disk", 2 << 20, 64 << 10, 21, DirtyPolicy.NO_ROUNDS);
        Loopback.Pair pair = Loopback.plain();
        Migration m = Migration.start(
                pair,
                DestinationStorage.inMemory(),
                DestinationOptions.defaults().withToken(TOKEN).withWaitForAllBlocks(true),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
        MigrationDestination dst = m.destination();
        MigrationSource source = m.source();
        MigrationDestination.Resumable res = dst.awaitResumable(WAIT);
        assertEquals(DestinationPhase.COMPLETED, dst.phase());
        for (WaitingDevice d : res.devices().values()) {
            assertTrue(d.isComplete());
        }
        source.awaitCompleted(WAIT);
        assertSameContents(src, res.devices());
        assertEquals(1, source.counters().dirtyPerRound().get("disk").size(), "only the final set with NO_ROUNDS");
        assertTrue(source.counters().zeroBlocks() > 0, "zero blocks were announced, not sent");
        src.close();
    }

    /** A migration of {@code src} whose destination drives the hand-over itself, once every block is here. */
    static Migration startExplicit(Source src) throws IOException {
        return Migration.start(
                Loopback.plain(),
                DestinationStorage.inMemory(),
                DestinationOptions.defaults()
                        .withToken(TOKEN)
                        .withWaitForAllBlocks(true)
                        .withExplicitTakeover(true),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
    }

    @Test
    void withExplicitTakeoverTheSourceGrantsOnlyWhenAsked() throws Exception {
        Source src = new Source().add("disk", 2 << 20, 64 << 10, 41, DirtyPolicy.NO_ROUNDS);
        Migration m = startExplicit(src);
        MigrationDestination.Resumable res = m.destination().awaitResumable(WAIT);
        for (WaitingDevice d : res.devices().values()) {
            assertTrue(d.isComplete(), "every block is here before the takeover");
        }
        assertEquals(SourcePhase.AUTHORITY_SENT, m.source().phase(), "the source keeps the VM until asked");
        assertEquals(Authority.SOURCE, m.source().authority());
        assertEquals(Authority.SOURCE, m.destination().authority());
        assertFalse(m.source().granted());
        IllegalStateException early = org.junit.jupiter.api.Assertions.assertThrows(
                IllegalStateException.class, m.destination()::confirmTakeover);
        assertTrue(early.getMessage().contains("has not granted it"), early.getMessage());

        m.destination().takeOver(WAIT);
        assertEquals(DestinationPhase.GRANTED, m.destination().phase());
        assertEquals(Authority.DESTINATION, m.destination().authority());
        assertTrue(m.source().granted());
        m.destination().takeOver(WAIT); // idempotent
        m.destination().confirmTakeover();
        m.source().awaitCompleted(WAIT);
        m.destination().awaitCompleted(WAIT);
        assertEquals(DestinationPhase.COMPLETED, m.destination().phase());
        assertEquals(Authority.DESTINATION, m.source().authority());
        assertEquals(0, src.resumes);
        src.close();
    }

    @Test
    void aDestinationThatGivesUpBeforeTheGrantLeavesTheVmAtTheSource() throws Exception {
        Source src = new Source().add("disk", 2 << 20, 64 << 10, 43, DirtyPolicy.NO_ROUNDS);
        Migration m = startExplicit(src);
        m.destination().awaitResumable(WAIT);
        m.destination().abort(); // e.g. its VM's state does not load
        MigrationException e = org.junit.jupiter.api.Assertions.assertThrows(
                MigrationException.class, () -> m.source().awaitCompleted(WAIT));
        assertEquals(Authority.SOURCE, e.authority(), e.getMessage());
        assertEquals(SourcePhase.FAILED, m.source().phase());
        assertEquals(1, src.suspends);
        assertEquals(1, src.resumes, "the engine resumed the writers by itself: the grant was never written");
        MigrationException d = org.junit.jupiter.api.Assertions.assertThrows(
                MigrationException.class, () -> m.destination().awaitCompleted(WAIT));
        assertTrue(d.getMessage().contains("partial copy is discarded"), d.getMessage());
        assertEquals(Authority.SOURCE, m.destination().authority());
        src.close();
    }

    @Test
    void aDestinationThatAbortsAfterTheGrantHandsTheVmBack() throws Exception {
        Source src = new Source().add("disk", 2 << 20, 64 << 10, 47, DirtyPolicy.NO_ROUNDS);
        Migration m = startExplicit(src);
        m.destination().awaitResumable(WAIT);
        m.destination().takeOver(WAIT);
        m.destination().abort(); // e.g. its VM did not start
        MigrationException e = org.junit.jupiter.api.Assertions.assertThrows(
                MigrationException.class, () -> m.source().awaitCompleted(WAIT));
        assertEquals(SourcePhase.FAILED, m.source().phase(), String.valueOf(e));
        assertEquals(Authority.UNCERTAIN, e.authority());
        assertEquals(0, src.resumes, "after the grant the engine never resumes on its own");
        ProtocolException peer = assertInstanceOf(ProtocolException.class, e.getCause());
        assertTrue(peer.fromPeer());
        assertEquals(ErrorCode.ABORTED, peer.code(), "the caller sees that the destination did not run it");
        m.source().resumeSource();
        assertEquals(SourcePhase.RESUMED, m.source().phase());
        assertEquals(Authority.SOURCE, m.source().authority());
        assertEquals(1, src.resumes, "the writers run at the source again");
        assertEquals(Authority.SOURCE, m.destination().authority(), "handed back");
        src.close();
    }

    @Test
    void destinationWritesWhilePreparingWinOverLateBlocks() throws Exception {
        Source src = new Source().add("disk", 4 << 20, 64 << 10, 31, DirtyPolicy.NO_ROUNDS);
        src.duringSuspend = () -> {
            try {
                src.tops.get(0).write(ByteBuffer.wrap(new byte[64 << 10]).put(0, (byte) 1), 5L * (64 << 10));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        Migration m = Migration.start(
                Loopback.plain(),
                DestinationStorage.inMemory(),
                DestinationOptions.defaults().withToken(TOKEN).withExplicitTakeover(true),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
        MigrationDestination dst = m.destination();
        MigrationSource source = m.source();
        // Block 5 is in the final dirty set: its last copy may arrive before or after this write.
        WaitingDevice disk = dst.awaitResumable(WAIT).devices().get("disk");
        byte[] mine = new byte[64 << 10];
        java.util.Arrays.fill(mine, (byte) 9);
        disk.write(ByteBuffer.wrap(mine), 5L * (64 << 10));
        dst.takeOver(WAIT);
        dst.confirmTakeover();
        source.awaitCompleted(WAIT);
        dst.awaitCompleted(WAIT);
        assertArrayEquals(mine, TestDevices.block(disk, 5), "the destination's own write is kept");
        src.close();
    }

    @Test
    void aSlowDeviceDoesNotStarveAnother() throws Exception {
        Source src = new Source()
                .add("slow", 64 * (64 << 10), 64 << 10, 41, DirtyPolicy.NO_ROUNDS)
                .add("fast", 256 * (64 << 10), 64 << 10, 42, DirtyPolicy.NO_ROUNDS);
        DestinationStorage storage = spec -> {
            var mem = new io.drafter.storage.source.MemoryBlockDevice(
                    spec.name(), spec.sizeBytes(), spec.blockSizeBytes());
            return new DestinationStorage.Opened(spec.name().equals("slow") ? new Delayed(mem, 0, 30) : mem, true);
        };
        Loopback.Pair pair = Loopback.plain();
        Migration m = Migration.start(
                pair,
                storage,
                DestinationOptions.defaults().withToken(TOKEN).withWindowBytes(4 * (64 << 10)),
                src.devices,
                SourceOptions.defaults().withToken(TOKEN),
                src);
        Map<String, WaitingDevice> devices = m.destination().awaitDevices(WAIT);
        WaitingDevice slow = devices.get("slow");
        WaitingDevice fast = devices.get("fast");
        Await.until(WAIT, "the fast device complete", fast::isComplete);
        // The slow device needs about 2 s (64 blocks x 30 ms); the fast one did not wait for it.
        long slowPresent = slow.presentBlockCount();
        assertTrue(slowPresent < 48, "fast device finished while the slow one had " + slowPresent + " of 64 blocks");
        m.source().awaitCompleted(WAIT);
        assertSameContents(src, m.destination().awaitResumable(WAIT).devices());
        src.close();
    }
}
