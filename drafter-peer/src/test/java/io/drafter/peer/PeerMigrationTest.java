package io.drafter.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.vm.Accel;
import io.drafter.vm.Console;
import io.drafter.vm.TestGuest;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.Vmm;
import io.drafter.vm.qemu.QemuVmm;
import io.drafter.vm.snapshot.DeviceSpec;
import io.drafter.vm.snapshot.Snapshotter;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end with real VMs (TCG here): a package is snapshotted from the DrafterOS blueprint with the counter
 * workload, resumed on peer A from its files (copy-on-write overlays), and live-migrated to peer B over loopback; B's
 * guest continues the counter where A's stopped (not rebooted) and the package's base files are never written.
 */
@Timeout(600)
class PeerMigrationTest {
    static final SharedToken TOKEN = SharedToken.of("peer-migration-test-token-0123456789");
    static final Pattern COUNTER = Pattern.compile("counter (\\d+)");

    @TempDir
    static Path dir;

    static Path pkg;

    @BeforeAll
    static void snapshot() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/dev/fuse")) && isRoot(), "needs root and /dev/fuse");
        Path bp = TestGuest.blueprint();
        pkg = dir.resolve("package");
        List<DeviceSpec> devices = List.of(
                new DeviceSpec("state", null, pkg.resolve("state.bin")),
                new DeviceSpec("memory", null, pkg.resolve("memory.bin")),
                new DeviceSpec("kernel", bp.resolve("vmlinux"), pkg.resolve("vmlinux")),
                new DeviceSpec("initrd", bp.resolve("initramfs.img"), pkg.resolve("initramfs.img")),
                new DeviceSpec("disk", bp.resolve("rootfs.ext4"), pkg.resolve("rootfs.ext4")),
                new DeviceSpec("config", null, pkg.resolve("config.json")),
                new DeviceSpec("oci", bp.resolve("oci-counter.ext4"), pkg.resolve("oci.ext4")));
        new Snapshotter(new QemuVmm())
                .run(new Snapshotter.Options(
                        devices,
                        dir.resolve("work"),
                        128,
                        1,
                        VmConfig.DEFAULT_BOOT_ARGS,
                        Accel.AUTO,
                        null,
                        Duration.ofMinutes(2),
                        Console.LOG,
                        "None",
                        true));
    }

    static boolean isRoot() {
        try {
            return "0"
                    .equals(new String(new ProcessBuilder("id", "-u")
                                    .start()
                                    .getInputStream()
                                    .readAllBytes())
                            .strip());
        } catch (IOException e) {
            return false;
        }
    }

    /** A peer's --devices: the package as base, with overlays in {@code peerDir} when {@code cow}. */
    static List<DeviceConfig> devices(Path base, Path peerDir, boolean cow) {
        return PackageDevices.of(
                base,
                cow ? peerDir : null,
                "\"blockSize\":65536,\"minCycles\":1,\"maxCycles\":3,\"cycleThrottle\":\"100ms\"");
    }

    static PeerOptions options(List<DeviceConfig> devices, Path runDir) {
        return new PeerOptions(
                devices,
                "",
                runDir,
                Duration.ofMinutes(2),
                false,
                TransportSecurity.plainTcp(),
                TOKEN,
                Console.LOG,
                null);
    }

    /**
     * On another thread: connects to {@code listener} (through {@code wrap}) and migrates the VM in as peer B with its
     * files under {@code bDir}; the future holds B or the reason it failed.
     */
    static CompletableFuture<Peer> migrateInAsync(
            Transport.ConnectionListener listener, Path bDir, Vmm vmm, UnaryOperator<Connection> wrap) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                Connection c = Transport.connect(
                        new InetSocketAddress("127.0.0.1", listener.port()),
                        TransportSecurity.plainTcp(),
                        Duration.ofSeconds(10));
                return Peer.migrateIn(
                        options(devices(bDir.resolve("package"), bDir, false), bDir.resolve("run")),
                        vmm,
                        wrap.apply(c),
                        null);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
    }

    /** For a migration that must fail: its failure, or null (after stopping the peer) if it did not fail. */
    static CompletableFuture<Throwable> failureOf(CompletableFuture<Peer> b) {
        return b.handle((peer, failure) -> {
            if (peer != null) {
                peer.close();
            }
            return failure instanceof java.util.concurrent.CompletionException ce ? ce.getCause() : failure;
        });
    }

    static long lastCounter(String console) {
        Matcher m = COUNTER.matcher(console);
        long last = -1;
        while (m.find()) {
            last = Long.parseLong(m.group(1));
        }
        return last;
    }

    static long awaitCounterAbove(Peer p, long floor, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long last = -1;
        while (System.nanoTime() < deadline) {
            last = lastCounter(p.vm().consoleTail(400));
            if (last > floor) {
                return last;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("counter did not pass " + floor + " (last " + last + "): " + p.vm().consoleTail(20));
    }

    @Test
    void migratesARunningVmBetweenTwoPeers() throws Exception {
        for (String f : List.of("memory.bin", "rootfs.ext4")) {
            assertTrue(Files.size(pkg.resolve(f)) > 0);
        }
        byte[] baseMemoryBefore = sha256(pkg.resolve("memory.bin"));
        Path aDir = dir.resolve("peer-a");
        Path bDir = dir.resolve("peer-b");
        QemuVmm vmm = new QemuVmm();
        try (Peer a = Peer.resumeLocal(options(devices(pkg, aDir, true), aDir.resolve("run")), vmm)) {
            long before = awaitCounterAbove(a, 0, Duration.ofSeconds(60));
            try (Transport.ConnectionListener listener =
                    Transport.listen(new InetSocketAddress("127.0.0.1", 0), TransportSecurity.plainTcp())) {
                CompletableFuture<Peer> b = migrateInAsync(listener, bDir, vmm, c -> c);
                Connection in = listener.accept(Duration.ofSeconds(30));
                MigrationSource source = a.migrateOut(in, SourceListener.NONE, false);
                SourceCounters counters = source.awaitCompleted(Duration.ofMinutes(5));
                a.migratedAway();
                long atSuspend = lastCounter(a.vm().consoleTail(400));
                try (Peer peerB = b.get(5, TimeUnit.MINUTES)) {
                    long after = awaitCounterAbove(peerB, atSuspend, Duration.ofSeconds(120));
                    String console = peerB.vm().consoleTail(400);
                    assertFalse(console.contains("counter 1\n"), "B must continue, not restart: " + console);
                    assertFalse(console.contains("BUG:"), console);
                    assertTrue(after > before, "counter moved on: " + before + " -> " + atSuspend + " -> " + after);
                    assertTrue(counters.blocksSent() > 0);
                    peerB.incoming().awaitCompleted(Duration.ofMinutes(2));
                }
            }
        }
        assertEquals(
                java.util.HexFormat.of().formatHex(baseMemoryBefore),
                java.util.HexFormat.of().formatHex(sha256(pkg.resolve("memory.bin"))),
                "peer A wrote only to its overlay");
        assertEquals(List.of(), TestGuest.qemuUnder(dir), "no QEMU left behind");
        assertFalse(Files.readString(Path.of("/proc/mounts")).contains(dir.toString()), "no mount left behind");
    }

    @Test
    void aDestinationThatCannotResumeHandsTheVmBack() throws Exception {
        Path aDir = dir.resolve("peer-a2");
        Path bDir = dir.resolve("peer-b2");
        QemuVmm vmm = new QemuVmm();
        Vmm failing = new Vmm() {
            @Override
            public VmInstance boot(VmConfig config) throws VmException {
                throw new VmException("not used");
            }

            @Override
            public VmInstance resume(VmConfig config, Path stateFile) throws VmException {
                throw new VmException("could not start QEMU: simulated failure at the destination");
            }
        };
        try (Peer a = Peer.resumeLocal(options(devices(pkg, aDir, true), aDir.resolve("run")), vmm)) {
            awaitCounterAbove(a, 0, Duration.ofSeconds(60));
            try (Transport.ConnectionListener listener =
                    Transport.listen(new InetSocketAddress("127.0.0.1", 0), TransportSecurity.plainTcp())) {
                CompletableFuture<Throwable> b = failureOf(migrateInAsync(listener, bDir, failing, c -> c));
                MigrationSource source =
                        a.migrateOut(listener.accept(Duration.ofSeconds(30)), SourceListener.NONE, false);
                Exception failure = org.junit.jupiter.api.Assertions.assertThrows(
                        Exception.class, () -> source.awaitCompleted(Duration.ofMinutes(5)));
                Throwable bFailure = b.get(2, TimeUnit.MINUTES);
                assertTrue(String.valueOf(bFailure).contains("simulated failure"), String.valueOf(bFailure));
                assertTrue(a.recoverAfterFailedMigration(source, failure), "authority came back: " + failure);
                long atSuspend = lastCounter(a.vm().consoleTail(400));
                long after = awaitCounterAbove(a, atSuspend, Duration.ofSeconds(60));
                assertTrue(after > atSuspend);
                assertFalse(
                        Files.exists(bDir.resolve("package").resolve("memory.bin")), "B discarded its partial copy");
            }
        }
        assertEquals(List.of(), TestGuest.qemuUnder(dir), "no QEMU left behind");
    }

    /**
     * Kills the connection as a dying process would, once from the destination's side during its full copy and once
     * from the source's side: each time the VM keeps running at the source (it was never suspended), the destination
     * fails, deletes the files it created and starts no QEMU, and nothing is left mounted.
     */
    @Test
    void aPeerLostDuringPreCopyLeavesTheVmRunningAtTheSource() throws Exception {
        Path aDir = dir.resolve("peer-a3");
        QemuVmm vmm = new QemuVmm();
        try (Peer a = Peer.resumeLocal(options(devices(pkg, aDir, true), aDir.resolve("run")), vmm)) {
            long last = awaitCounterAbove(a, 0, Duration.ofSeconds(60));
            for (boolean destinationDies : new boolean[] {true, false}) {
                Path bDir = dir.resolve(destinationDies ? "peer-b3-dies" : "peer-b3-source-dies");
                try (Transport.ConnectionListener listener =
                        Transport.listen(new InetSocketAddress("127.0.0.1", 0), TransportSecurity.plainTcp())) {
                    CompletableFuture<Throwable> b = failureOf(migrateInAsync(
                            listener, bDir, vmm, c -> destinationDies ? new DyingConnection(c, 8 << 20) : c));
                    DyingConnection out = new DyingConnection(listener.accept(Duration.ofSeconds(30)), Long.MAX_VALUE);
                    MigrationSource source = a.migrateOut(out, SourceListener.NONE, false);
                    if (!destinationDies) {
                        long deadline =
                                System.nanoTime() + Duration.ofSeconds(60).toNanos();
                        while (source.phase() == SourcePhase.HANDSHAKE && System.nanoTime() < deadline) {
                            Thread.sleep(5);
                        }
                        Thread.sleep(200);
                        out.die(); // the source process "dies" during its full copy
                    }
                    Exception failure = org.junit.jupiter.api.Assertions.assertThrows(
                            Exception.class, () -> source.awaitCompleted(Duration.ofMinutes(2)));
                    assertTrue(
                            a.recoverAfterFailedMigration(source, failure), "the source keeps authority: " + failure);
                    Throwable bFailure = b.get(2, TimeUnit.MINUTES);
                    assertTrue(bFailure != null, "the destination must fail");
                    assertFalse(
                            Files.exists(bDir.resolve("package").resolve("memory.bin")),
                            "the destination discarded its partial copy");
                    assertEquals(List.of(), TestGuest.qemuUnder(bDir), "no QEMU started at the destination");
                    last = awaitCounterAbove(a, last, Duration.ofSeconds(60));
                }
            }
        }
        assertFalse(Files.readString(Path.of("/proc/mounts")).contains(dir.toString()), "no mount left behind");
    }

    static byte[] sha256(Path p) throws Exception {
        var md = java.security.MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return md.digest();
    }
}
