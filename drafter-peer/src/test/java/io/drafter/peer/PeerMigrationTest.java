package io.drafter.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.base.testing.Await;
import io.drafter.migration.Authority;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.peer.testing.PeerOptionsBuilder;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.Vmm;
import io.drafter.vm.qemu.QemuVmm;
import io.drafter.vm.snapshot.SnapshotDevice;
import io.drafter.vm.snapshot.Snapshotter;
import io.drafter.vm.testing.TestGuest;
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
    /** Each async step on a thread of its own: the common pool has one thread on two cores, and they block. */
    static final java.util.concurrent.Executor OWN_THREAD =
            r -> Thread.ofVirtual().start(r);

    @TempDir
    static Path dir;

    static Path pkg;

    @BeforeAll
    static void snapshot() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/dev/fuse")) && isRoot(), "needs root and /dev/fuse");
        Path bp = TestGuest.blueprint();
        pkg = dir.resolve("package");
        List<SnapshotDevice> devices = List.of(
                new SnapshotDevice("state", null, pkg.resolve("state.bin")),
                new SnapshotDevice("memory", null, pkg.resolve("memory.bin")),
                new SnapshotDevice("kernel", bp.resolve("vmlinux"), pkg.resolve("vmlinux")),
                new SnapshotDevice("initrd", bp.resolve("initramfs.img"), pkg.resolve("initramfs.img")),
                new SnapshotDevice("disk", bp.resolve("rootfs.ext4"), pkg.resolve("rootfs.ext4")),
                new SnapshotDevice("config", null, pkg.resolve("config.json")),
                new SnapshotDevice("oci", bp.resolve("oci-counter.ext4"), pkg.resolve("oci.ext4")));
        new Snapshotter(new QemuVmm())
                .run(TestGuest.snapshotOptions(devices, dir.resolve("work"), Duration.ofMinutes(2)));
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
        return PeerOptionsBuilder.peerOptions(devices, runDir)
                .resumeTimeout(Duration.ofMinutes(2))
                .token(TOKEN)
                .build();
    }

    /** A listener for peer A's migrations out, with the test token. */
    static MigrationListener listen() throws IOException {
        return MigrationListener.bind(
                new InetSocketAddress("127.0.0.1", 0),
                TransportSecurity.plainTcp(),
                TOKEN,
                false,
                MigrationListener.Limits.defaults());
    }

    /** On another thread: {@code a} serves migrations out on {@code listener} until one completes or {@code stop}. */
    static CompletableFuture<Peer.Outcome> serveAsync(Peer a, MigrationListener listener, CompletableFuture<?> stop) {
        return CompletableFuture.supplyAsync(
                () -> {
                    try {
                        return a.serve(listener, null, false, stop);
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                },
                OWN_THREAD);
    }

    /**
     * On another thread: connects to {@code address} (through {@code wrap}) and migrates the VM in as peer B with its
     * files under {@code bDir}; the future holds B or the reason it failed.
     */
    static CompletableFuture<Peer> migrateInAsync(
            InetSocketAddress address, Path bDir, Vmm vmm, UnaryOperator<Connection> wrap) {
        return CompletableFuture.supplyAsync(
                () -> {
                    try {
                        Connection c = Transport.connect(address, TransportSecurity.plainTcp(), Duration.ofSeconds(10));
                        return Peer.migrateIn(
                                options(devices(bDir.resolve("package"), bDir, false), bDir.resolve("run")),
                                vmm,
                                wrap.apply(c),
                                null,
                                new CompletableFuture<Void>());
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                },
                OWN_THREAD);
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

    static long awaitCounterAbove(Peer p, long floor, Duration timeout) throws Exception {
        return Await.value(
                timeout,
                "the guest's counter to pass " + floor,
                () -> {
                    long last = lastCounter(p.vm().consoleTail(400));
                    return last > floor ? last : null;
                },
                () -> "last " + lastCounter(p.vm().consoleTail(400)) + ": " + p.vm().consoleTail(20));
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
        try (Peer a = Peer.resumeLocal(options(devices(pkg, aDir, true), aDir.resolve("run")), vmm);
                MigrationListener listener = listen()) {
            long before = awaitCounterAbove(a, 0, Duration.ofSeconds(60));
            CompletableFuture<Peer.Outcome> served = serveAsync(a, listener, new CompletableFuture<Void>());
            CompletableFuture<Peer> b = migrateInAsync(listener.address(), bDir, vmm, c -> c);
            Peer.Outcome outcome = served.get(5, TimeUnit.MINUTES);
            Peer.Outcome.MigratedAway away = assertInstanceOf(Peer.Outcome.MigratedAway.class, outcome);
            long atSuspend = lastCounter(a.vm().consoleTail(400));
            assertEquals("the VM runs at " + away.destination(), a.stop());
            try (Peer peerB = b.get(5, TimeUnit.MINUTES)) {
                long after = awaitCounterAbove(peerB, atSuspend, Duration.ofSeconds(120));
                String console = peerB.vm().consoleTail(400);
                assertFalse(console.contains("counter 1\n"), "B must continue, not restart: " + console);
                assertFalse(console.contains("BUG:"), console);
                assertTrue(after > before, "counter moved on: " + before + " -> " + atSuspend + " -> " + after);
                assertTrue(away.counters().blocksSent() > 0);
                peerB.incoming().awaitCompleted(Duration.ofMinutes(2));
                // Migrated-in blocks are not guest writes: B's devices count only what its VM wrote (nothing, for the
                // kernel), and they are not in the volatility monitor's count either.
                assertEquals(0, peerB.stacks().get("kernel").counters().writes(), "kernel blocks arrived below");
            }
        }
        assertEquals(
                java.util.HexFormat.of().formatHex(baseMemoryBefore),
                java.util.HexFormat.of().formatHex(sha256(pkg.resolve("memory.bin"))),
                "peer A wrote only to its overlay");
        assertEquals(List.of(), TestGuest.qemuUnder(dir), "no QEMU left behind");
        assertFalse(Files.readString(Path.of("/proc/mounts")).contains(dir.toString()), "no mount left behind");
    }

    /**
     * {@code shared: true}: the VM's disk is a file in a mounter's mount (copy-on-write over the package's disk). The
     * VM runs on it at peer A, migrates to peer B without it (only the other devices move), and runs on at B from the
     * same file, which B opens itself; the mounter holds every write either VM made.
     */
    @Test
    void aSharedDiskInAMountersFileStaysWhileTheVmMigrates() throws Exception {
        Path aDir = dir.resolve("peer-a-shared");
        Path bDir = dir.resolve("peer-b-shared");
        Path mDir = dir.resolve("mounter-shared");
        List<DeviceConfig> mounted = io.drafter.storage.config.DeviceConfigParser.parse(
                "[{\"name\":\"disk\",\"base\":\"" + pkg.resolve("rootfs.ext4") + "\",\"overlay\":\""
                        + mDir.resolve("disk.overlay") + "\",\"state\":\"" + mDir.resolve("disk.state") + "\"}]",
                io.drafter.storage.config.DeviceConfigParser.Use.PEER);
        QemuVmm vmm = new QemuVmm();
        try (Mounter m = Mounter.openLocal(new Mounter.Options(mounted, mDir.resolve("mnt"), TOKEN, false, false))) {
            DeviceConfig sharedDisk = io.drafter.storage.config.DeviceConfigParser.parse(
                            "[{\"name\":\"disk\",\"base\":\"" + m.files().get("disk") + "\",\"shared\":true}]",
                            io.drafter.storage.config.DeviceConfigParser.Use.PEER)
                    .getFirst();
            List<DeviceConfig> aDevices = devices(pkg, aDir, true).stream()
                    .map(d -> d.name().equals("disk") ? sharedDisk : d)
                    .toList();
            Path bPkg = bDir.resolve("package");
            List<DeviceConfig> bDevices = devices(bPkg, bDir, false).stream()
                    .map(d -> d.name().equals("disk") ? sharedDisk : d)
                    .toList();
            try (Peer a = Peer.resumeLocal(options(aDevices, aDir.resolve("run")), vmm);
                    MigrationListener listener = listen()) {
                long before = awaitCounterAbove(a, 0, Duration.ofSeconds(60));
                CompletableFuture<Peer.Outcome> served = serveAsync(a, listener, new CompletableFuture<Void>());
                CompletableFuture<Peer> b = CompletableFuture.supplyAsync(
                        () -> {
                            try {
                                return Peer.migrateIn(
                                        options(bDevices, bDir.resolve("run")),
                                        vmm,
                                        Transport.connect(
                                                listener.address(),
                                                TransportSecurity.plainTcp(),
                                                Duration.ofSeconds(10)),
                                        null,
                                        new CompletableFuture<Void>());
                            } catch (Exception e) {
                                throw new java.util.concurrent.CompletionException(e);
                            }
                        },
                        OWN_THREAD);
                assertInstanceOf(Peer.Outcome.MigratedAway.class, served.get(5, TimeUnit.MINUTES));
                long atSuspend = lastCounter(a.vm().consoleTail(400));
                a.stop();
                try (Peer peerB = b.get(5, TimeUnit.MINUTES)) {
                    long after = awaitCounterAbove(peerB, atSuspend, Duration.ofSeconds(120));
                    assertTrue(after > before, before + " -> " + atSuspend + " -> " + after);
                    assertFalse(peerB.vm().consoleTail(400).contains("BUG:"));
                    assertTrue(peerB.stacks().get("disk").config().shared());
                    assertFalse(Files.exists(bPkg.resolve("rootfs.ext4")), "the shared disk was not migrated");
                    assertTrue(Files.exists(bPkg.resolve("memory.bin")), "the other devices were");
                }
            }
            assertTrue(m.stacks().get("disk").counters().reads() > 0, "both VMs read the disk from the mounter");
        }
        assertFalse(Files.readString(Path.of("/proc/mounts")).contains(dir.toString()), "no mount left behind");
    }

    /**
     * drafter terminator: the running VM's devices go into plain files and the chain ends there. The source's VM stops
     * (migrated away); the files are a package that resumes where the VM stopped; a device the terminator was not
     * given makes it refuse before anything is written, and the VM runs on at the source.
     */
    @Test
    void aTerminatorEndsTheChainWithAPackageThatResumes() throws Exception {
        Path aDir = dir.resolve("peer-a-terminated");
        Path out = dir.resolve("terminated");
        Path cDir = dir.resolve("peer-c-from-terminated");
        QemuVmm vmm = new QemuVmm();
        java.util.Map<String, Path> outputs = new java.util.LinkedHashMap<>();
        for (List<String> f : PackageDevices.FILES) {
            outputs.put(f.get(0), out.resolve(f.get(1)));
        }
        long atSuspend;
        try (Peer a = Peer.resumeLocal(options(devices(pkg, aDir, true), aDir.resolve("run")), vmm);
                MigrationListener listener = listen()) {
            awaitCounterAbove(a, 0, Duration.ofSeconds(60));
            CompletableFuture<Peer.Outcome> served = serveAsync(a, listener, new CompletableFuture<Void>());

            // Without "oci" in its devices the terminator refuses the group; nothing is written, the VM runs on.
            java.util.Map<String, Path> lacking = new java.util.LinkedHashMap<>(outputs);
            lacking.remove("oci");
            IOException refused = org.junit.jupiter.api.Assertions.assertThrows(
                    IOException.class,
                    () -> Terminator.run(
                            Transport.connect(listener.address(), TransportSecurity.plainTcp(), Duration.ofSeconds(10)),
                            lacking,
                            TOKEN,
                            false,
                            null,
                            new CompletableFuture<Void>()));
            assertTrue(String.valueOf(refused.getMessage()).contains("oci"), String.valueOf(refused));
            assertFalse(Files.exists(out) && Files.list(out).findAny().isPresent(), "nothing written");
            long running = lastCounter(a.vm().consoleTail(400));
            awaitCounterAbove(a, running, Duration.ofSeconds(60));

            Terminator.Result r = Terminator.run(
                    Transport.connect(listener.address(), TransportSecurity.plainTcp(), Duration.ofSeconds(10)),
                    outputs,
                    TOKEN,
                    false,
                    null,
                    new CompletableFuture<Void>());
            assertInstanceOf(Peer.Outcome.MigratedAway.class, served.get(1, TimeUnit.MINUTES));
            assertEquals(outputs, r.files());
            atSuspend = lastCounter(a.vm().consoleTail(400));
        }
        try (var files = Files.list(out)) {
            assertEquals(
                    outputs.values().stream()
                            .map(p -> p.getFileName().toString())
                            .sorted()
                            .toList(),
                    files.map(p -> p.getFileName().toString()).sorted().toList(),
                    "exactly the outputs, no temporary file left");
        }
        try (Peer c = Peer.resumeLocal(options(devices(out, cDir, true), cDir.resolve("run")), vmm)) {
            long after = awaitCounterAbove(c, atSuspend, Duration.ofSeconds(120));
            assertTrue(after > atSuspend, "resumed where it stopped: " + atSuspend + " -> " + after);
            assertFalse(c.vm().consoleTail(400).contains("BUG:"));
        }
        assertEquals(List.of(), TestGuest.qemuUnder(dir), "no QEMU left behind");
    }

    /**
     * drafter registry: two peers start the package's VM from one registry at once, each before its copy has arrived
     * (they run from FETCHING on and fetch what the VM reads first), each guest continues the snapshot's counter, each
     * peer's devices end complete, and the package's files are never written.
     */
    @Test
    void twoPeersStartFromOneRegistryBeforeThePackageArrives() throws Exception {
        long memoryModified =
                Files.getLastModifiedTime(pkg.resolve("memory.bin")).toMillis();
        List<Registry.Device> served = PackageDevices.FILES.stream()
                .map(f -> new Registry.Device(f.get(0), pkg.resolve(f.get(1)), 65536))
                .toList();
        QemuVmm vmm = new QemuVmm();
        CompletableFuture<Void> stopRegistry = new CompletableFuture<>();
        try (Registry registry = Registry.open(served, true);
                MigrationListener listener = MigrationListener.bind(
                        new InetSocketAddress("127.0.0.1", 0),
                        TransportSecurity.plainTcp(),
                        TOKEN,
                        false,
                        MigrationListener.Limits.defaults().withMaxSessions(2),
                        true)) {
            CompletableFuture<Integer> serving = CompletableFuture.supplyAsync(
                    () -> {
                        try {
                            return registry.serve(listener, null, stopRegistry, Duration.ofSeconds(30));
                        } catch (Exception e) {
                            throw new java.util.concurrent.CompletionException(e);
                        }
                    },
                    OWN_THREAD);
            List<List<io.drafter.migration.destination.DestinationPhase>> phases = List.of(
                    java.util.Collections.synchronizedList(new java.util.ArrayList<>()),
                    java.util.Collections.synchronizedList(new java.util.ArrayList<>()));
            List<CompletableFuture<Peer>> starts = new java.util.ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Path peerDir = dir.resolve("from-registry-" + i);
                List<io.drafter.migration.destination.DestinationPhase> seen = phases.get(i);
                starts.add(CompletableFuture.supplyAsync(
                        () -> {
                            try {
                                Connection c = Transport.connect(
                                        listener.address(), TransportSecurity.plainTcp(), Duration.ofSeconds(10));
                                return Peer.migrateIn(
                                        options(
                                                devices(peerDir.resolve("package"), peerDir, false),
                                                peerDir.resolve("run")),
                                        vmm,
                                        c,
                                        new io.drafter.migration.destination.DestinationListener() {
                                            @Override
                                            public void onPhase(
                                                    io.drafter.migration.destination.DestinationPhase from,
                                                    io.drafter.migration.destination.DestinationPhase to,
                                                    Duration timeInFrom) {
                                                seen.add(to);
                                            }
                                        },
                                        new CompletableFuture<Void>());
                            } catch (Exception e) {
                                throw new java.util.concurrent.CompletionException(e);
                            }
                        },
                        OWN_THREAD));
            }
            for (int i = 0; i < 2; i++) {
                try (Peer p = starts.get(i).get(5, TimeUnit.MINUTES)) {
                    long counter = awaitCounterAbove(p, 0, Duration.ofSeconds(120));
                    String console = p.vm().consoleTail(400);
                    assertFalse(console.contains("counter 1\n"), "continues the snapshot, not a boot: " + console);
                    assertFalse(console.contains("BUG:"), console);
                    p.incoming().awaitCompleted(Duration.ofMinutes(2));
                    assertTrue(
                            phases.get(i).contains(io.drafter.migration.destination.DestinationPhase.FETCHING),
                            "ran before every block was here: " + phases.get(i));
                    assertTrue(counter > 0);
                    assertTrue(p.stop().startsWith("the VM is suspended in its devices"), "complete devices");
                }
            }
            stopRegistry.complete(null);
            assertEquals(0, serving.get(1, TimeUnit.MINUTES), "no session was cut off");
            assertEquals(2, registry.servedCount());
        }
        assertEquals(
                memoryModified,
                Files.getLastModifiedTime(pkg.resolve("memory.bin")).toMillis(),
                "the registry never writes the package");
        assertEquals(List.of(), TestGuest.qemuUnder(dir), "no QEMU left behind");
    }

    /**
     * drafter terminator --live-backup: the VM pauses only for the cut and runs on at its peer, which keeps serving;
     * the files are a package that resumes to the cut (its guest's counter goes on from a value between the last one
     * seen before the backup and the first one after it).
     */
    @Test
    void aLiveBackupLeavesTheVmRunningAndAPackageOfTheCut() throws Exception {
        Path aDir = dir.resolve("peer-a-backed-up");
        Path out = dir.resolve("backup");
        Path cDir = dir.resolve("peer-c-from-backup");
        QemuVmm vmm = new QemuVmm();
        java.util.Map<String, Path> outputs = new java.util.LinkedHashMap<>();
        for (List<String> f : PackageDevices.FILES) {
            outputs.put(f.get(0), out.resolve(f.get(1)));
        }
        long before;
        long after;
        try (Peer a = Peer.resumeLocal(options(devices(pkg, aDir, true), aDir.resolve("run")), vmm);
                MigrationListener listener = listen()) {
            awaitCounterAbove(a, 0, Duration.ofSeconds(60));
            CompletableFuture<Void> stop = new CompletableFuture<>();
            CompletableFuture<Peer.Outcome> served = serveAsync(a, listener, stop);
            before = lastCounter(a.vm().consoleTail(400));
            Terminator.Result r = Terminator.run(
                    Transport.connect(listener.address(), TransportSecurity.plainTcp(), Duration.ofSeconds(10)),
                    outputs,
                    TOKEN,
                    false,
                    true,
                    null,
                    new CompletableFuture<Void>());
            assertEquals(outputs, r.files());
            after = lastCounter(a.vm().consoleTail(400));
            awaitCounterAbove(a, after + 1, Duration.ofSeconds(60));
            assertFalse(served.isDone(), "the peer serves on: " + served);
            stop.complete(null);
            assertInstanceOf(Peer.Outcome.StopRequested.class, served.get(1, TimeUnit.MINUTES));
        }
        try (Peer c = Peer.resumeLocal(options(devices(out, cDir, true), cDir.resolve("run")), vmm)) {
            awaitCounterAbove(c, before, Duration.ofSeconds(120));
            Matcher m = COUNTER.matcher(c.vm().consoleTail(400));
            assertTrue(m.find());
            long first = Long.parseLong(m.group(1));
            assertTrue(
                    first > before && first <= after + 1,
                    "resumed at the cut: " + before + " < " + first + " <= " + (after + 1));
        }
        assertEquals(List.of(), TestGuest.qemuUnder(dir), "no QEMU left behind");
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
                throw new VmException("not used");
            }

            @Override
            public VmInstance prepare(VmConfig config, Path stateFile) throws VmException {
                throw new VmException("could not start QEMU: simulated failure at the destination");
            }

            /** A real QEMU started ahead, whose state load then fails: after authority, with the source paused. */
            @Override
            public VmInstance startDeferred(VmConfig config) throws VmException {
                VmInstance real = vmm.startDeferred(config);
                return (VmInstance) java.lang.reflect.Proxy.newProxyInstance(
                        VmInstance.class.getClassLoader(), new Class<?>[] {VmInstance.class}, (proxy, m, args) -> {
                            if (m.getName().equals("loadState")) {
                                throw new VmException("could not load the state: simulated failure at the destination");
                            }
                            try {
                                return m.invoke(real, args);
                            } catch (java.lang.reflect.InvocationTargetException e) {
                                throw e.getCause();
                            }
                        });
            }
        };
        CompletableFuture<Void> stop = new CompletableFuture<>();
        try (Peer a = Peer.resumeLocal(options(devices(pkg, aDir, true), aDir.resolve("run")), vmm);
                MigrationListener listener = listen()) {
            awaitCounterAbove(a, 0, Duration.ofSeconds(60));
            CompletableFuture<Peer.Outcome> served = serveAsync(a, listener, stop);
            Throwable bFailure = failureOf(migrateInAsync(listener.address(), bDir, failing, c -> c))
                    .get(2, TimeUnit.MINUTES);
            assertTrue(String.valueOf(bFailure).contains("simulated failure"), String.valueOf(bFailure));
            assertFalse(Files.exists(bDir.resolve("package").resolve("memory.bin")), "B discarded its partial copy");
            // The VM runs on at A, and A listens again: a working destination takes it.
            long atSuspend = lastCounter(a.vm().consoleTail(400));
            assertTrue(awaitCounterAbove(a, atSuspend, Duration.ofSeconds(60)) > atSuspend);
            assertFalse(
                    served.isDone(),
                    () -> "A serves on after a failed migration: "
                            + served.handle((o, t) -> o != null ? o : t).join());
            Path b3 = dir.resolve("peer-b2-again");
            try (Peer again =
                    migrateInAsync(listener.address(), b3, vmm, c -> c).get(5, TimeUnit.MINUTES)) {
                assertInstanceOf(Peer.Outcome.MigratedAway.class, served.get(1, TimeUnit.MINUTES));
                awaitCounterAbove(again, atSuspend, Duration.ofSeconds(120));
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
                            new InetSocketAddress("127.0.0.1", listener.port()),
                            bDir,
                            vmm,
                            c -> destinationDies ? new DyingConnection(c, 8 << 20) : c));
                    DyingConnection out = new DyingConnection(listener.accept(Duration.ofSeconds(30)), Long.MAX_VALUE);
                    CompletableFuture<SourcePhase> afterHandshake = new CompletableFuture<>();
                    MigrationSource source = a.migrateOut(
                            out,
                            new SourceListener() {
                                @Override
                                public void onPhase(SourcePhase from, SourcePhase to, Duration timeInFrom) {
                                    if (from == SourcePhase.HANDSHAKE) {
                                        afterHandshake.complete(to);
                                    }
                                }
                            },
                            false);
                    if (!destinationDies) {
                        afterHandshake.get(60, TimeUnit.SECONDS);
                        Thread.sleep(200); // some way into the full copy
                        out.die(); // the source process "dies" during its full copy
                    }
                    org.junit.jupiter.api.Assertions.assertThrows(
                            Exception.class, () -> source.awaitCompleted(Duration.ofMinutes(2)));
                    assertEquals(Authority.SOURCE, source.authority(), "the source keeps authority");
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
