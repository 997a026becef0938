package io.drafter.peer.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.net.CommandRunner;
import io.drafter.net.Forwarder;
import io.drafter.net.Ipv4Cidr;
import io.drafter.net.NatConfig;
import io.drafter.net.PortForward;
import io.drafter.peer.PackageDevices;
import io.drafter.peer.Peer;
import io.drafter.peer.PeerOptions;
import io.drafter.peer.testing.PeerOptionsBuilder;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.vm.Console;
import io.drafter.vm.Network;
import io.drafter.vm.SnapshotConfig;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.Vmm;
import io.drafter.vm.qemu.QemuInstance;
import io.drafter.vm.qemu.QemuVmm;
import io.drafter.vm.qmp.QmpCommand;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A running Redis VM under a steady write load, live-migrated between two local "hosts" (namespaces ark0 and ark1)
 * twice in one run: with drafter peers, and with QEMU's own live migration (RAM in the stream, disks shared), each
 * behind a 127.0.0.1 port forward that follows the VM (QEMU's stream goes over a Unix socket: B runs in ark1). Prints the client-visible downtime (longest gap between
 * acknowledged writes), total migration time, bytes, lost acknowledged writes, and the ratios.
 *
 * <p>With {@code -Dbench.link=100mbit:40ms} (a {@link WanLink.Profile}) both migration streams cross the same shaped,
 * delayed {@link WanLink} instead: drafter's connection from B to A's listener, and QEMU's, over TCP, from A in ark0 to
 * B listening in ark1. The link is measured before the first migration and every migration also reports the bytes it
 * put on the link. {@code -Dbench.compression=true} lets drafter's source compress blocks (zstd);
 * {@code -Dbench.policy} replaces the devices' dirty-round policy (the JSON fields after the device's name and files).
 *
 * <p>Usage: {@code VmMigrationBenchmark <package dir> <work dir>}; run by {@code scripts/bench-vm-migration.sh}, which
 * builds the package and creates the namespaces. Root only.
 */
public final class VmMigrationBenchmark {
    static final int PORT = 3333;

    /** Where B's QEMU listens for the stream in ark1 with a link. */
    static final int QEMU_INCOMING_PORT = 4444;

    static final boolean COMPRESSION = Boolean.getBoolean("bench.compression");
    /** The devices' block size in bytes ({@code BENCH_BLOCK_SIZE}). */
    static final int BLOCK_SIZE = Integer.getInteger("bench.blockSize", 65536);

    /**
     * {@code bench.redisBenchmark=N}: {@code redis-benchmark} with N clients (SET, looping) loads the VM through the
     * forward from 2 s before each migration, drafter's and QEMU's alike, to 3 s after it, besides the light writer
     * whose gaps are the client-visible downtime; 0 (the default): the writer only.
     */
    static final int HEAVY_CLIENTS = Integer.getInteger("bench.redisBenchmark", 0);

    static final String POLICY =
            System.getProperty("bench.policy", "\"minCycles\":2,\"maxCycles\":10,\"cycleThrottle\":\"200ms\"");

    /**
     * One migration: client-visible downtime (longest gap between acknowledged writes), the VM's paused window (stop
     * at the source to vCPUs running at the destination) and its parts where known, total time, bytes, writes.
     *
     * @param pausedMs drafter: source pause (after BeforeSuspend) to destination {@code cont}; QEMU: its own
     *     reported downtime, with a link A stopped to B running (both polled every 2 ms)
     * @param parts drafter: suspend (BeforeSuspend, pause, RAM flush, state save, device flush), then after authority
     *     the destination's state load and {@code cont}; QEMU: empty
     * @param linkBytes bytes the migration put on the link, both directions (0 without a link)
     */
    record Result(
            String name,
            long downtimeMs,
            long pausedMs,
            String parts,
            long totalMs,
            long bytes,
            long linkBytes,
            long acked,
            long lost) {}

    public static void main(String[] args) throws Exception {
        Path pkg = Path.of(args[0]).toAbsolutePath();
        Path work = Path.of(args[1]).toAbsolutePath();
        int pairs = Integer.getInteger("bench.pairs", 5);
        String linkProfile = System.getProperty("bench.link", "");
        Files.createDirectories(work);
        System.out.println("drafter: compression " + (COMPRESSION ? "zstd" : "off") + ", devices " + POLICY);
        if (linkProfile.isBlank()) {
            System.out.println("link: none (loopback, QEMU's stream over a Unix socket)");
            run(pkg, work, pairs, null);
            return;
        }
        try (WanLink link = WanLink.open(WanLink.Profile.parse(linkProfile))) {
            System.out.println("link: " + link.profile() + " (" + linkProfile + "), veth " + WanLink.HOST_VETH + " "
                    + WanLink.HOST_ADDRESS + " <-> " + WanLink.NAMESPACE + "/" + WanLink.NAMESPACE_VETH + " "
                    + WanLink.NAMESPACE_ADDRESS + ": " + link.qdiscs());
            System.out.println("link measured: " + link.measure(2));
            run(pkg, work, pairs, link);
        }
        System.out.println("link removed: namespace " + WanLink.NAMESPACE + ", veth pair, qdiscs, relay threads");
    }

    static void run(Path pkg, Path work, int pairs, WanLink link) throws Exception {
        List<Result> drafter = new ArrayList<>();
        List<Result> qemu = new ArrayList<>();
        System.out.printf(
                Locale.ROOT,
                "%-8s %4s %12s %10s %10s %12s %12s %7s %5s  %s%n",
                "",
                "run",
                "downtime ms",
                "paused ms",
                "total ms",
                "bytes",
                "link bytes",
                "acked",
                "lost",
                "parts");
        for (int i = 0; i < pairs; i++) {
            // Alternate which goes first, so that a trend in the machine's load falls on both alike.
            for (boolean drafterFirst : new boolean[] {i % 2 == 0, i % 2 != 0}) {
                Result r = drafterFirst
                        ? drafter(pkg, work.resolve("drafter-" + i), link)
                        : qemu(pkg, work.resolve("qemu-" + i), link);
                (drafterFirst ? drafter : qemu).add(r);
                System.out.printf(
                        Locale.ROOT,
                        "%-8s %4d %12d %10d %10d %12d %12d %7d %5d  %s%n",
                        r.name(),
                        i + 1,
                        r.downtimeMs(),
                        r.pausedMs(),
                        r.totalMs(),
                        r.bytes(),
                        r.linkBytes(),
                        r.acked(),
                        r.lost(),
                        r.parts());
                deleteTree(work.resolve(drafterFirst ? "drafter-" + i : "qemu-" + i));
            }
        }
        double[] downtimeRatios = new double[pairs];
        double[] pausedRatios = new double[pairs];
        double[] totalRatios = new double[pairs];
        for (int i = 0; i < pairs; i++) {
            totalRatios[i] =
                    drafter.get(i).totalMs() / (double) Math.max(1, qemu.get(i).totalMs());
            downtimeRatios[i] = drafter.get(i).downtimeMs()
                    / (double) Math.max(1, qemu.get(i).downtimeMs());
            pausedRatios[i] =
                    drafter.get(i).pausedMs() / (double) Math.max(1, qemu.get(i).pausedMs());
        }
        System.out.printf(
                Locale.ROOT,
                "%nmedians over %d pairs: drafter downtime %d ms, paused %d ms (worst %d), total %d ms, %d bytes (link"
                        + " %d); qemu downtime %d ms, paused %d ms, total %d ms, %d bytes (link %d)%n",
                pairs,
                median(drafter.stream().mapToLong(Result::downtimeMs).toArray()),
                median(drafter.stream().mapToLong(Result::pausedMs).toArray()),
                drafter.stream().mapToLong(Result::pausedMs).max().orElse(0),
                median(drafter.stream().mapToLong(Result::totalMs).toArray()),
                median(drafter.stream().mapToLong(Result::bytes).toArray()),
                median(drafter.stream().mapToLong(Result::linkBytes).toArray()),
                median(qemu.stream().mapToLong(Result::downtimeMs).toArray()),
                median(qemu.stream().mapToLong(Result::pausedMs).toArray()),
                median(qemu.stream().mapToLong(Result::totalMs).toArray()),
                median(qemu.stream().mapToLong(Result::bytes).toArray()),
                median(qemu.stream().mapToLong(Result::linkBytes).toArray()));
        System.out.printf(
                Locale.ROOT,
                "ratio drafter/qemu (median of the pairs' ratios): client-visible downtime %.2f, paused window %.2f,"
                        + " total time %.2f; lost acknowledged writes: drafter %d, qemu %d%n",
                medianOf(downtimeRatios),
                medianOf(pausedRatios),
                medianOf(totalRatios),
                drafter.stream().mapToLong(Result::lost).sum(),
                qemu.stream().mapToLong(Result::lost).sum());
    }

    static long median(long[] v) {
        long[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length == 0 ? 0 : s[s.length / 2];
    }

    static double medianOf(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length == 0 ? 0 : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }

    static List<PortForward> forward(String netns) {
        return PortForward.parseList("[{\"netns\":\"" + netns + "\",\"internalPort\":\"6379\",\"protocol\":\"tcp\","
                + "\"externalAddr\":\"127.0.0.1:" + PORT + "\"}]");
    }

    static List<DeviceConfig> devices(Path base, Path cow) {
        return PackageDevices.of(base, cow, "\"blockSize\":" + BLOCK_SIZE + "," + POLICY);
    }

    static final SharedToken TOKEN = SharedToken.of("vm-migration-benchmark-token-0123456789");

    /** A peer's options: {@code devices}, its VM in {@code netns} behind the 127.0.0.1 forward, plain TCP. */
    static PeerOptions peerOptions(List<DeviceConfig> devices, String netns, Path runDir) {
        return PeerOptionsBuilder.peerOptions(devices, runDir)
                .netns(netns)
                .token(TOKEN)
                .portForwards(forward(netns))
                .build();
    }

    /**
     * A finished drafter migration: the peer that runs the VM now (closed with this), the source's counters, the time
     * from the source's accept to its completion, and the link's bytes.
     */
    record Migration(
            Peer b, SourceCounters counters, long totalMs, Transport.ConnectionListener listener, WanLink.Tunnel tunnel)
            implements AutoCloseable {
        long linkBytes() {
            return tunnel == null ? 0 : tunnel.bytes();
        }

        @Override
        public void close() throws Exception {
            try (listener;
                    tunnel) {
                b.close();
            }
        }
    }

    /**
     * Migrates {@code a}'s VM to a new peer with {@code bOpts} over loopback (or {@code link}), as {@code drafter peer}
     * does, and closes {@code a} once the migration completed.
     */
    static Migration migrate(Peer a, PeerOptions bOpts, Vmm vmm, SourceListener events, WanLink link) throws Exception {
        Transport.ConnectionListener listener =
                Transport.listen(new InetSocketAddress("127.0.0.1", 0), TransportSecurity.plainTcp());
        WanLink.Tunnel tunnel = null;
        boolean ok = false;
        try {
            tunnel = link == null ? null : link.tunnel(null, null, new InetSocketAddress("127.0.0.1", listener.port()));
            InetSocketAddress sourceAddress =
                    tunnel == null ? new InetSocketAddress("127.0.0.1", listener.port()) : tunnel.address();
            CompletableFuture<Peer> b = CompletableFuture.supplyAsync(() -> {
                try {
                    Connection c =
                            Transport.connect(sourceAddress, TransportSecurity.plainTcp(), Duration.ofSeconds(10));
                    return Peer.migrateIn(bOpts, vmm, c, null, new CompletableFuture<Void>());
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            long t0 = System.nanoTime();
            MigrationSource source = a.migrateOut(listener.accept(Duration.ofSeconds(30)), events, COMPRESSION);
            SourceCounters counters;
            try {
                counters = source.awaitCompleted(Duration.ofMinutes(5));
            } catch (Exception e) {
                // The source only hears that B gave up: say why B did.
                try {
                    b.get(30, TimeUnit.SECONDS).close();
                } catch (Exception fromB) {
                    e.addSuppressed(fromB);
                }
                throw e;
            }
            long totalMs = (System.nanoTime() - t0) / 1_000_000;
            a.close();
            Migration m = new Migration(b.get(5, TimeUnit.MINUTES), counters, totalMs, listener, tunnel);
            ok = true;
            return m;
        } finally {
            if (!ok) {
                try (listener;
                        WanLink.Tunnel t = tunnel) {
                    // closed
                }
            }
        }
    }

    static Result drafter(Path pkg, Path work, WanLink link) throws Exception {
        // The destination starts QEMU ahead while the full copy runs; QEMU then reads its kernel and initrd through
        // the mount, block by block on demand, each read a round trip behind the copy: over 50 Mbit/s and 150 ms that
        // takes longer than the default 10 s for QMP to come up (the migration then fails), so a link allows 60 s.
        QemuVmm vmm = link == null
                ? new QemuVmm()
                : new QemuVmm("qemu-system-x86_64", Duration.ofSeconds(60), Duration.ofSeconds(60));
        PeerOptions aOpts = peerOptions(devices(pkg, work.resolve("a")), "ark0", work.resolve("a/run"));
        PeerOptions bOpts = peerOptions(devices(work.resolve("b/package"), null), "ark1", work.resolve("b/run"));
        try (Peer a = Peer.resumeLocal(aOpts, vmm);
                LoadClient client = new LoadClient()) {
            client.awaitServing(Duration.ofSeconds(60));
            HeavyLoad heavy = HeavyLoad.start();
            Thread.sleep(2000); // a steady load before the migration starts
            try (Migration m = migrate(a, bOpts, vmm, SourceListener.NONE, link)) {
                Peer peerB = m.b();
                heavy.switched();
                Thread.sleep(3000); // the load runs on at B: gaps after the switch count too
                client.stop();
                heavy.stop("drafter");
                System.out.println("drafter: the client reconnected " + client.reconnects() + " time(s)");
                long pausedMs = (peerB.runningAtNanos() - a.pausedAtNanos()) / 1_000_000;
                String parts = "pause->suspended " + (a.suspendedAtNanos() - a.pausedAtNanos()) / 1_000_000
                        + " ms, suspended->running " + (peerB.runningAtNanos() - a.suspendedAtNanos()) / 1_000_000
                        + " ms (of which state load+cont "
                        + peerB.lastResume().toMillis()
                        + " ms); QEMU started ahead in "
                        + peerB.startedAhead().toMillis() + " ms; final set "
                        + m.counters().dirtyPerRound().values().stream()
                                .mapToInt(r -> r.isEmpty() ? 0 : r.getLast())
                                .sum()
                        + " blocks";
                return new Result(
                        "drafter",
                        client.longestGapMs(),
                        pausedMs,
                        parts,
                        m.totalMs(),
                        m.counters().bytesSent(),
                        m.linkBytes(),
                        client.acked(),
                        client.missing());
            }
        }
    }

    static Result qemu(Path pkg, Path work, WanLink link) throws Exception {
        Path a = work.resolve("a");
        copyPackage(pkg, a);
        SnapshotConfig snap = SnapshotConfig.read(a.resolve("config.json"));
        QemuVmm vmm = new QemuVmm();
        VmConfig aCfg = plainConfig(snap, a, a.resolve("memory.bin"), "ark0", a.resolve("run"));
        Path bMemory = work.resolve("b/memory.bin");
        Files.createDirectories(bMemory.getParent());
        try (var ch = java.nio.channels.FileChannel.open(
                bMemory, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.allocate(1), Files.size(a.resolve("memory.bin")) - 1);
        }
        VmConfig bCfg = plainConfig(snap, a, bMemory, "ark1", work.resolve("b/run"));
        CommandRunner runner = new CommandRunner();
        Ipv4Cidr pool = Ipv4Cidr.parse(NatConfig.DEFAULT_HOST_VETH_CIDR);
        try (QemuInstance vmA = vmm.resume(aCfg, a.resolve("state.bin"))) {
            Forwarder fwd = Forwarder.open(forward("ark0"), pool, runner);
            try (LoadClient client = new LoadClient()) {
                client.awaitServing(Duration.ofSeconds(60));
                HeavyLoad heavy = HeavyLoad.start();
                Thread.sleep(2000); // a steady load before the migration starts
                // B runs inside ark1 (its own loopback), so without a link the stream goes over a Unix socket both can
                // reach; with one, B listens on TCP in ark1 and A connects to the link's entry in ark0.
                String incoming = link == null
                        ? "unix:" + work.resolve("b/migration.sock")
                        : "tcp:127.0.0.1:" + QEMU_INCOMING_PORT;
                // B's forward is looked up and made (dormant) before the migration, as a drafter destination does
                // during pre-copy, so that the switch after it costs what the peers' switch costs.
                try (QemuInstance vmB = vmm.startIncoming(bCfg);
                        WanLink.Tunnel tunnel = link == null
                                ? null
                                : link.tunnel("ark0", "ark1", new InetSocketAddress("127.0.0.1", QEMU_INCOMING_PORT));
                        Forwarder.Plan bForward = stagedPlan(forward("ark1"), pool, runner)) {
                    String uri = tunnel == null
                            ? incoming
                            : "tcp:127.0.0.1:" + tunnel.address().getPort();
                    vmB.qmp().execute(new QmpCommand.MigrateIncoming(incoming), Duration.ofSeconds(10));
                    // A was resumed from our snapshot with x-ignore-shared; QEMU's own migration sends RAM in the
                    // stream.
                    vmA.qmp()
                            .execute(
                                    new QmpCommand.MigrateSetCapabilities(Map.of("x-ignore-shared", false)),
                                    Duration.ofSeconds(10));
                    long t0 = System.nanoTime();
                    vmA.qmp().execute(new QmpCommand.Migrate(uri), Duration.ofSeconds(10));
                    JsonNode info;
                    // With a link, QEMU's own downtime (measured at A, up to its last byte sent) leaves out the way
                    // to B: time the window as for drafter instead, A stopped to B running, both polled.
                    long stoppedAt = 0;
                    long runningAt = 0;
                    while (true) {
                        info = vmA.qmp().execute(new QmpCommand.QueryMigrate(), Duration.ofSeconds(10));
                        String status = info.path("status").asText();
                        if (link != null && stoppedAt == 0 && !running(vmA)) {
                            stoppedAt = System.nanoTime();
                        }
                        if (link != null && stoppedAt != 0 && runningAt == 0 && running(vmB)) {
                            runningAt = System.nanoTime();
                        }
                        if (status.equals("completed") && (link == null || runningAt != 0)) {
                            break;
                        }
                        if (status.equals("failed") || status.equals("cancelled")) {
                            throw new IOException("QEMU migration " + status + ": " + info);
                        }
                        Thread.sleep(
                                link == null
                                        ? 5
                                        : 2); // the measurement: QEMU's status and run states, polled alike every run
                    }
                    // The VM runs at B now: move the forward, as the drafter peers do (A's removed, B's installed).
                    fwd.close();
                    fwd = bForward.install();
                    heavy.switched();
                    long totalMs = (System.nanoTime() - t0) / 1_000_000;
                    System.out.println(
                            "qemu reports downtime " + info.path("downtime").asLong() + " ms, "
                                    + info.path("ram").path("transferred").asLong() + " RAM bytes");
                    Thread.sleep(3000); // the load runs on at B: gaps after the switch count too
                    client.stop();
                    heavy.stop("qemu");
                    System.out.println("qemu: the client reconnected " + client.reconnects() + " time(s)");
                    return new Result(
                            "qemu",
                            client.longestGapMs(),
                            link == null ? info.path("downtime").asLong() : (runningAt - stoppedAt) / 1_000_000,
                            link == null
                                    ? ""
                                    : "A stopped -> B running, polled; QEMU reports downtime "
                                            + info.path("downtime").asLong() + " ms",
                            totalMs,
                            info.path("ram").path("transferred").asLong(),
                            tunnel == null ? 0 : tunnel.bytes(),
                            client.acked(),
                            client.missing());
                }
            } finally {
                fwd.close();
            }
        }
    }

    /**
     * {@link Forwarder#plan} and {@link Forwarder.Plan#stage} (which leaves nothing when it fails), as a destination
     * peer does ahead.
     */
    static Forwarder.Plan stagedPlan(List<PortForward> forwards, Ipv4Cidr pool, CommandRunner runner) {
        Forwarder.Plan plan = Forwarder.plan(forwards, pool, runner);
        plan.stage();
        return plan;
    }

    /**
     * The {@code redis-benchmark} load of {@link #HEAVY_CLIENTS}, or nothing. Its connections go through the forward
     * and, like the guest's TCP state, survive the move (or not: {@link #stop} says whether the load still ran at the
     * end). A failure of the migration leaves the process to the JVM's end: it is stopped then.
     */
    static final class HeavyLoad {
        private final MemoryDeviceBenchmark.RedisBenchmark process;
        private final long startedAt = System.nanoTime();
        private long switchedAt;

        private HeavyLoad(MemoryDeviceBenchmark.RedisBenchmark process) {
            this.process = process;
        }

        static HeavyLoad start() throws IOException {
            if (HEAVY_CLIENTS <= 0) {
                return new HeavyLoad(null);
            }
            MemoryDeviceBenchmark.RedisBenchmark p =
                    MemoryDeviceBenchmark.RedisBenchmark.start(HEAVY_CLIENTS, Integer.MAX_VALUE, "set");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    p.close();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            return new HeavyLoad(p);
        }

        /** The VM serves at its new place now. */
        void switched() {
            switchedAt = System.nanoTime();
        }

        /** Stops the load and prints its requests/s before the migration and after the switch. */
        void stop(String name) throws InterruptedException {
            if (process == null) {
                return;
            }
            long now = System.nanoTime();
            boolean alive = process.alive();
            process.close();
            System.out.printf(
                    Locale.ROOT,
                    "%s: redis-benchmark %d clients, SET %.0f requests/s before the migration, %.0f in the 3 s after"
                            + " the switch%s%n",
                    name,
                    HEAVY_CLIENTS,
                    process.meanRps(startedAt, startedAt + 2_000_000_000L),
                    process.meanRps(switchedAt, now),
                    alive ? "" : "; it had ended: " + process.tail());
        }
    }

    /** Copies every file of the package {@code pkg} into {@code dir}. */
    static void copyPackage(Path pkg, Path dir) throws IOException {
        Files.createDirectories(dir);
        for (List<String> f : PackageDevices.FILES) {
            Files.copy(pkg.resolve(f.get(1)), dir.resolve(f.get(1)), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /**
     * The VM of the snapshot {@code snap} for QEMU alone, no peer: kernel, initrd and drives are the package's files in
     * {@code files}, guest RAM is {@code memory}, the NIC is in {@code netns}.
     */
    static VmConfig plainConfig(SnapshotConfig snap, Path files, Path memory, String netns, Path runDir)
            throws VmException {
        Map<String, Path> drives = new LinkedHashMap<>();
        for (String d : snap.drives()) {
            drives.put(d, files.resolve(d.equals("disk") ? "rootfs.ext4" : d + ".ext4"));
        }
        String mac = snap.mac() == null ? Network.DEFAULT_MAC : snap.mac();
        return snap.toVmConfig(
                files.resolve("vmlinux"),
                files.resolve("initramfs.img"),
                drives,
                memory,
                new Network(netns, snap.tapInterface(), mac),
                runDir,
                Console.LOG);
    }

    static boolean running(QemuInstance vm) throws IOException {
        return vm.qmp()
                .execute(new QmpCommand.QueryStatus(), Duration.ofSeconds(10))
                .path("running")
                .asBoolean();
    }

    /** Writes SET load<i> every 5 ms to 127.0.0.1:PORT, reconnecting after a 200 ms timeout; counts gaps. */
    static final class LoadClient implements AutoCloseable {
        /** {@code -Dbench.keepConnection=true}: one connection, waiting up to 10 s for each answer (survival). */
        static final boolean KEEP = Boolean.getBoolean("bench.keepConnection");

        volatile int connects;
        private volatile int connectsAtServing;

        /** Connections the client had to open again after it was served first (0: its connection survived). */
        int reconnects() {
            return connects - connectsAtServing;
        }

        private final List<String> ackedKeys = java.util.Collections.synchronizedList(new ArrayList<>());
        private final java.util.concurrent.CountDownLatch firstAck = new java.util.concurrent.CountDownLatch(1);
        private volatile boolean stop;
        private volatile long longestGapNs;
        private final Thread thread = Thread.ofPlatform().name("redis-load").start(this::run);

        private void run() {
            Socket s = null;
            long lastAck = 0;
            for (long i = 1; !stop; i++) {
                try {
                    if (s == null) {
                        s = new Socket();
                        s.connect(new InetSocketAddress("127.0.0.1", PORT), 200);
                        s.setSoTimeout(KEEP ? 10_000 : 200);
                        connects++;
                    }
                    String key = "load" + i;
                    if ("+OK".equals(command(s, "SET", key, Long.toString(i)))) {
                        long now = System.nanoTime();
                        if (lastAck != 0 && !ackedKeys.isEmpty()) {
                            longestGapNs = Math.max(longestGapNs, now - lastAck);
                        }
                        lastAck = now;
                        ackedKeys.add(key);
                        firstAck.countDown();
                    }
                    Thread.sleep(5); // the load's pace: one SET every 5 ms
                } catch (IOException e) {
                    closeQuietly(s);
                    s = null;
                } catch (InterruptedException e) {
                    return;
                }
            }
            closeQuietly(s);
        }

        void awaitServing(Duration timeout) throws InterruptedException {
            if (!firstAck.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("Redis did not answer on 127.0.0.1:" + PORT);
            }
            longestGapNs = 0;
            connectsAtServing = connects;
        }

        void stop() throws InterruptedException {
            stop = true;
            thread.join();
        }

        long acked() {
            return ackedKeys.size();
        }

        long longestGapMs() {
            return longestGapNs / 1_000_000;
        }

        /** How many acknowledged keys the VM no longer has. */
        long missing() throws IOException {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", PORT), 2000);
                s.setSoTimeout(5000);
                long missing = 0;
                for (String k : List.copyOf(ackedKeys)) {
                    if ("$-1".equals(command(s, "GET", k))) {
                        missing++;
                    }
                }
                return missing;
            }
        }

        static String command(Socket s, String... args) throws IOException {
            StringBuilder b = new StringBuilder("*").append(args.length).append("\r\n");
            for (String a : args) {
                b.append('$').append(a.length()).append("\r\n").append(a).append("\r\n");
            }
            OutputStream out = s.getOutputStream();
            out.write(b.toString().getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = s.getInputStream();
            String line = readLine(in);
            if (line.startsWith("$") && !line.equals("$-1")) {
                int n = Integer.parseInt(line.substring(1));
                in.readNBytes(n + 2);
            }
            return line;
        }

        static String readLine(InputStream in) throws IOException {
            StringBuilder b = new StringBuilder();
            for (int c; (c = in.read()) != -1; ) {
                if (c == '\n') {
                    return b.toString().strip();
                }
                b.append((char) c);
            }
            throw new IOException("connection closed");
        }

        static void closeQuietly(Socket s) {
            try {
                if (s != null) {
                    s.close();
                }
            } catch (IOException ignored) {
                // nothing to do
            }
        }

        @Override
        public void close() throws InterruptedException {
            stop();
        }
    }
}
