package io.drafter.peer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.base.testing.Await;
import io.drafter.expose.fuse.DeviceMount;
import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.storage.DeviceStack;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.config.DeviceConfigParser;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mounters without a VM, in one JVM over loopback with a token: device files from local files, written by another
 * thread through the FUSE mount while they migrate to a second mounter; a destination lost before the grant; a peer's
 * {@code shared} device over a mounter's file. Needs root and {@code /dev/fuse}.
 *
 * <p>Everything that reads or writes through a mount served in this JVM runs on platform threads: a virtual thread
 * blocked in such a system call pins its carrier, and with few carriers the migration's own virtual threads starve.
 */
@Timeout(120)
class MounterTest {
    static final SharedToken TOKEN = SharedToken.of("mounter-test-token-0123456789abcdef");
    static final int BLOCK = 64 << 10;
    static final String TUNING = "\"blockSize\":65536,\"minCycles\":1,\"maxCycles\":4,\"cycleThrottle\":\"50ms\"";

    @TempDir
    Path dir;

    private final List<Mounter> mounters = new ArrayList<>();

    @BeforeEach
    void needsFuse() {
        assumeTrue(Files.isReadable(Path.of("/dev/fuse")) && PeerMigrationTest.isRoot(), "needs root and /dev/fuse");
    }

    @AfterEach
    void cleanUp() {
        mounters.forEach(Mounter::stop); // also unmounts when a test failed half-way
    }

    private Mounter track(Mounter m) {
        mounters.add(m);
        return m;
    }

    /** Device files {@code disk} (4 MiB, random) and {@code data} (1 MiB, random in its first half) in {@code at}. */
    private Map<String, byte[]> makeBases(Path at) throws IOException {
        Files.createDirectories(at);
        Random r = new Random(7);
        byte[] disk = new byte[4 << 20];
        r.nextBytes(disk);
        byte[] data = new byte[1 << 20];
        byte[] half = new byte[data.length / 2];
        r.nextBytes(half);
        System.arraycopy(half, 0, data, 0, half.length);
        Files.write(at.resolve("disk.img"), disk);
        Files.write(at.resolve("data.img"), data);
        return new java.util.LinkedHashMap<>(Map.of("disk", disk, "data", data));
    }

    private static List<DeviceConfig> devices(Path bases) {
        return DeviceConfigParser.parse(
                "[{\"name\":\"disk\",\"base\":\"" + bases.resolve("disk.img") + "\"," + TUNING + "},"
                        + "{\"name\":\"data\",\"base\":\"" + bases.resolve("data.img") + "\"," + TUNING + "}]",
                DeviceConfigParser.Use.PEER);
    }

    private static Mounter.Options options(List<DeviceConfig> devices, Path mountDir) {
        return new Mounter.Options(devices, mountDir, TOKEN, false, true);
    }

    private static MigrationListener listen() throws IOException {
        return MigrationListener.bind(
                new InetSocketAddress("127.0.0.1", 0),
                TransportSecurity.plainTcp(),
                TOKEN,
                false,
                MigrationListener.Limits.defaults());
    }

    private static Connection dial(MigrationListener l) throws IOException {
        return Transport.connect(l.address(), TransportSecurity.plainTcp(), Duration.ofSeconds(10));
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private static boolean mounted(Path p) throws IOException {
        String abs = p.toAbsolutePath().normalize().toString();
        return Files.readAllLines(Path.of("/proc/mounts")).stream().anyMatch(l -> l.split(" ")[1].equals(abs));
    }

    /**
     * Writes random 4–64 KiB pieces through a device file on its own platform thread until a write fails or it is
     * told to stop; every acknowledged write is applied to {@code model}, so the model is what the device must hold.
     */
    static final class Writer {
        final byte[] model;
        final AtomicLong writes = new AtomicLong();
        volatile Throwable failure;
        volatile long failedAtNanos;
        volatile boolean stop;
        final Thread thread;

        Writer(Path file, byte[] model, long seed) {
            this.model = model;
            this.thread = Thread.ofPlatform().name("mount-writer").start(() -> run(file, seed));
        }

        private void run(Path file, long seed) {
            Random r = new Random(seed);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                while (!stop) {
                    int len = 4096 * (1 + r.nextInt(16));
                    long off = 4096L * r.nextInt((model.length - len) / 4096 + 1);
                    byte[] b = new byte[len];
                    r.nextBytes(b);
                    ByteBuffer buf = ByteBuffer.wrap(b);
                    while (buf.hasRemaining()) {
                        ch.write(buf, off + buf.position());
                    }
                    synchronized (model) {
                        System.arraycopy(b, 0, model, (int) off, len);
                    }
                    writes.incrementAndGet();
                }
            } catch (Throwable t) {
                failedAtNanos = System.nanoTime();
                failure = t;
            }
        }

        /** Waits until {@code n} more writes were acknowledged, or one failed. */
        void awaitWrites(long n) throws InterruptedException {
            long target = writes.get() + n;
            Await.until(
                    Duration.ofSeconds(60),
                    n + " more writes through the mount",
                    () -> writes.get() >= target || failure != null,
                    () -> writes.get() + " of " + target + " writes");
        }

        byte[] snapshot() {
            synchronized (model) {
                return model.clone();
            }
        }
    }

    /** Serves {@code m} on {@code listener} on its own platform thread; records phases and failed migrations. */
    static final class Serving implements Peer.Events {
        final CompletableFuture<Peer.Outcome> outcome = new CompletableFuture<>();
        final CompletableFuture<Void> stop = new CompletableFuture<>();
        final List<SourcePhase> phases = java.util.Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger failed = new AtomicInteger();
        final CompletableFuture<String> firstFailure = new CompletableFuture<>();
        volatile long completedAtNanos;
        private final Mounter m;

        Serving(Mounter m, MigrationListener listener) {
            this.m = m;
            Thread.ofPlatform().name("mounter-serve").start(() -> {
                try {
                    outcome.complete(m.serve(listener, this, stop));
                } catch (Throwable t) {
                    outcome.completeExceptionally(t);
                }
            });
        }

        @Override
        public void onPhase(SourcePhase from, SourcePhase to, Duration timeInFrom) {
            if (to == SourcePhase.COMPLETED) {
                completedAtNanos = System.nanoTime();
            }
            phases.add(to);
            if (to == SourcePhase.FINAL_SYNC) {
                // The devices are frozen: the hand-over waits (on the engine's thread, bounded) until the test's
                // writer is held there, which a writer off the CPU for the whole freeze would otherwise miss.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (m.exposed().get("disk").waitingWrites() < 1 && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
                }
            }
        }

        @Override
        public void migrationFailed(String destination, String reason) {
            failed.incrementAndGet();
            firstFailure.complete(reason);
        }
    }

    @Test
    void filesWrittenDuringTheMigrationArriveExactlyAndTheSourceUnmounts() throws Exception {
        Path aDir = dir.resolve("a");
        Map<String, byte[]> initial = makeBases(aDir);
        Path aMount = dir.resolve("a-mnt");
        Mounter a = track(Mounter.openLocal(options(devices(aDir), aMount)));
        assertTrue(mounted(aMount));
        assertEquals(
                sha256(initial.get("disk")),
                sha256(Files.readAllBytes(a.files().get("disk"))),
                "files serve the bases");

        Path bDir = dir.resolve("b/files"); // does not exist: the destination creates its bases
        Path bMount = dir.resolve("b/mnt");
        Writer w = new Writer(a.files().get("disk"), initial.get("disk").clone(), 11);
        try (MigrationListener l = listen()) {
            Serving s = new Serving(a, l);
            w.awaitWrites(50); // writes land during the whole pre-copy, too
            Mounter b =
                    track(Mounter.migrateIn(options(devices(bDir), bMount), dial(l), null, new CompletableFuture<>()));
            Peer.Outcome o = s.outcome.get(60, TimeUnit.SECONDS);
            Peer.Outcome.MigratedAway away = assertInstanceOf(Peer.Outcome.MigratedAway.class, o);
            assertTrue(away.counters().rounds() >= 1, "dirty rounds ran while the file was written");
            assertTrue(
                    s.phases.contains(SourcePhase.SUSPENDING) && s.phases.contains(SourcePhase.GRANTED),
                    s.phases.toString());

            // The writer was held at the freeze, not failed: its one failure comes only once the devices moved.
            w.thread.join(10_000);
            assertNotNull(w.failure, "the source's file refuses writes once the devices moved");
            assertTrue(w.failedAtNanos > s.completedAtNanos, "no write failed before the hand-over completed");
            assertTrue(a.exposed().get("disk").heldWritesTotal() >= 1, "a write waited at the freeze");
            assertTrue(w.writes.get() > 50, "writes went on during the migration: " + w.writes.get());

            String where = a.stop();
            assertTrue(where.contains("the devices are at"), where);
            assertFalse(mounted(aMount), "the source unmounted");
            assertFalse(Files.exists(aMount), "and removed the mount directory it created");

            byte[] expected = w.snapshot();
            assertTrue(mounted(bMount));
            assertEquals(sha256(expected), sha256(Files.readAllBytes(b.files().get("disk"))), "disk at B");
            assertEquals(
                    sha256(initial.get("data")),
                    sha256(Files.readAllBytes(b.files().get("data"))),
                    "data at B");
            assertEquals(sha256(expected), sha256(Files.readAllBytes(aDir.resolve("disk.img"))), "A's file");

            // B's files are writable and its data stays in its files when it stops.
            byte[] more = new byte[8192];
            new Random(3).nextBytes(more);
            try (FileChannel ch = FileChannel.open(b.files().get("disk"), StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(more), 1 << 20);
            }
            System.arraycopy(more, 0, expected, 1 << 20, more.length);
            assertTrue(b.stop().contains("in their files"));
            assertFalse(mounted(bMount));
            assertEquals(sha256(expected), sha256(Files.readAllBytes(bDir.resolve("disk.img"))), "B's file");
        } finally {
            w.stop = true;
        }
    }

    @Test
    void aDestinationLostBeforeTheGrantLeavesTheSourceServingAndWritable() throws Exception {
        Path aDir = dir.resolve("a");
        Map<String, byte[]> initial = makeBases(aDir);
        Mounter a = track(Mounter.openLocal(options(devices(aDir), dir.resolve("a-mnt"))));
        Writer w = new Writer(a.files().get("disk"), initial.get("disk").clone(), 12);
        try (MigrationListener l = listen()) {
            Serving s = new Serving(a, l);
            w.awaitWrites(20);

            // B1 dies once it holds authority (the source is frozen then), before it asks for the grant.
            Path b1Dir = dir.resolve("b1/files");
            Path b1Mount = dir.resolve("b1/mnt");
            DyingConnection c = new DyingConnection(dial(l), Long.MAX_VALUE);
            DestinationListener dies = new DestinationListener() {
                @Override
                public void onPhase(DestinationPhase from, DestinationPhase to, Duration timeInFrom) {
                    if (to == DestinationPhase.AUTHORITATIVE) {
                        c.die(); // now, before the caller can ask for the grant
                    }
                }
            };
            IOException lost = assertThrows(
                    IOException.class,
                    () -> track(
                            Mounter.migrateIn(options(devices(b1Dir), b1Mount), c, dies, new CompletableFuture<>())));
            assertNotNull(lost.getMessage());
            assertFalse(Files.exists(dir.resolve("b1")), "the lost destination removed what it created");

            // Whichever comes first: the failure, or the end of serving (which the asserts below refuse).
            CompletableFuture.anyOf(s.firstFailure, s.outcome)
                    .handle((v, t) -> v)
                    .get(60, TimeUnit.SECONDS);
            assertEquals(1, s.failed.get(), "the source saw the migration fail before the hand-over");
            assertTrue(s.phases.contains(SourcePhase.SUSPENDING), "the source had frozen its devices");
            assertFalse(s.outcome.isDone(), "and serves on");
            assertFalse(a.exposed().get("disk").frozen(), "thawed");
            w.awaitWrites(20);
            assertNull(w.failure, "held writes went on after the thaw; none failed");
            assertTrue(a.exposed().get("disk").heldWritesTotal() >= 1, "a write waited at the freeze");

            // The next destination gets every write.
            Path b2Dir = dir.resolve("b2/files");
            Mounter b2 = track(Mounter.migrateIn(
                    options(devices(b2Dir), dir.resolve("b2/mnt")), dial(l), null, new CompletableFuture<>()));
            assertInstanceOf(Peer.Outcome.MigratedAway.class, s.outcome.get(60, TimeUnit.SECONDS));
            w.thread.join(10_000);
            assertTrue(w.failedAtNanos > s.completedAtNanos, "no write failed before the hand-over completed");
            assertEquals(
                    sha256(w.snapshot()), sha256(Files.readAllBytes(b2.files().get("disk"))));
            assertEquals(
                    sha256(initial.get("data")),
                    sha256(Files.readAllBytes(b2.files().get("data"))));
        } finally {
            w.stop = true;
        }
    }

    @Test
    void stoppingWithoutAMigrationKeepsTheDataInTheOverlays() throws Exception {
        Path aDir = dir.resolve("a");
        Map<String, byte[]> initial = makeBases(aDir);
        Path cow = dir.resolve("cow");
        List<DeviceConfig> cowDevices = DeviceConfigParser.parse(
                "[{\"name\":\"disk\",\"base\":\"" + aDir.resolve("disk.img") + "\",\"overlay\":\""
                        + cow.resolve("disk.overlay") + "\",\"state\":\"" + cow.resolve("disk.state") + "\"}]",
                DeviceConfigParser.Use.PEER);
        Path mnt = dir.resolve("mnt");
        Mounter a = track(Mounter.openLocal(options(cowDevices, mnt)));
        byte[] piece = new byte[5000];
        new Random(5).nextBytes(piece);
        try (FileChannel ch = FileChannel.open(a.files().get("disk"), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(piece), 12345);
        }
        assertTrue(a.stop().contains(cow.resolve("disk.overlay").toString()));
        assertFalse(mounted(mnt));
        assertArrayEquals(initial.get("disk"), Files.readAllBytes(aDir.resolve("disk.img")), "the base is untouched");

        Mounter again = track(Mounter.openLocal(options(cowDevices, mnt)));
        byte[] expected = initial.get("disk").clone();
        System.arraycopy(piece, 0, expected, 12345, piece.length);
        assertEquals(sha256(expected), sha256(Files.readAllBytes(again.files().get("disk"))), "the overlay kept it");
    }

    @Test
    void aFailedStartLeavesNothingBehind() throws Exception {
        Path aDir = dir.resolve("a");
        makeBases(aDir);
        Path cow = dir.resolve("cow/deep");
        // The second device's base is missing: refused before anything is created.
        List<DeviceConfig> missing = DeviceConfigParser.parse(
                "[{\"name\":\"disk\",\"base\":\"" + aDir.resolve("disk.img") + "\",\"overlay\":\"" + cow.resolve("o")
                        + "\",\"state\":\"" + cow.resolve("s") + "\"},{\"name\":\"gone\",\"base\":\""
                        + aDir.resolve("nope.img") + "\"}]",
                DeviceConfigParser.Use.PEER);
        IOException e =
                assertThrows(IOException.class, () -> track(Mounter.openLocal(options(missing, dir.resolve("m")))));
        assertTrue(e.getMessage().contains("nope.img does not exist"), e.getMessage());
        // A mount directory that is not empty is refused: the mount would hide what it holds.
        Path full = Files.createDirectories(dir.resolve("full"));
        Files.writeString(full.resolve("keep"), "x");
        List<DeviceConfig> ok = DeviceConfigParser.parse(
                "[{\"name\":\"disk\",\"base\":\"" + aDir.resolve("disk.img") + "\",\"overlay\":\"" + cow.resolve("o")
                        + "\",\"state\":\"" + cow.resolve("s") + "\"}]",
                DeviceConfigParser.Use.PEER);
        e = assertThrows(IOException.class, () -> track(Mounter.openLocal(options(ok, full))));
        assertTrue(e.getMessage().contains("not empty"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("cow")), "no overlay, state or directory was left");
        assertFalse(Files.exists(dir.resolve("m")));
    }

    /**
     * A peer's device with {@code shared: true} whose base is a file in a mounter's mount: the peer opens it as is (no
     * overlay; it is never migrated) and serves it in its own mount, as it would to QEMU; what is written through the
     * peer's file lands in the mounter's device, and the other way round. (Without a VM: the peer's side is its
     * {@link DeviceStack} and {@link DeviceMount}, which is all a peer does with a shared device before QEMU opens it.)
     */
    @Test
    void aPeersSharedDeviceUsesAMountersFile() throws Exception {
        Path aDir = dir.resolve("a");
        Map<String, byte[]> initial = makeBases(aDir);
        Mounter m = track(Mounter.openLocal(options(devices(aDir), dir.resolve("m"))));
        DeviceConfig shared = DeviceConfigParser.parse(
                        "[{\"name\":\"disk\",\"base\":\"" + m.files().get("disk") + "\",\"shared\":true}]",
                        DeviceConfigParser.Use.PEER)
                .getFirst();
        assertFalse(shared.migrated(), "a shared device is never migrated");
        try (DeviceStack peerDisk = DeviceStack.open(shared, false, 0, null);
                DeviceMount peerMount =
                        DeviceMount.mount(dir.resolve("peer-devices"), Map.of("disk", peerDisk.top()))) {
            assertEquals(initial.get("disk").length, peerDisk.top().sizeBytes());
            byte[] piece = new byte[3 * 4096];
            new Random(9).nextBytes(piece);
            try (FileChannel ch = FileChannel.open(peerMount.file("disk"), StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(piece), 8 * 4096);
            }
            peerDisk.top().flush();
            byte[] expected = initial.get("disk").clone();
            System.arraycopy(piece, 0, expected, 8 * 4096, piece.length);
            assertEquals(sha256(expected), sha256(Files.readAllBytes(m.files().get("disk"))), "the mounter sees it");
            assertEquals(
                    sha256(expected),
                    sha256(m.stacks().get("disk").readAll()),
                    "it reached the mounter's device, not a copy");

            byte[] other = new byte[4096];
            new Random(10).nextBytes(other);
            try (FileChannel ch = FileChannel.open(m.files().get("disk"), StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(other), 0);
            }
            System.arraycopy(other, 0, expected, 0, other.length);
            assertEquals(sha256(expected), sha256(Files.readAllBytes(peerMount.file("disk"))), "the peer sees it");
        }
    }
}
