package io.drafter.peer.bench;

import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourcePhase;
import io.drafter.net.CommandRunner;
import io.drafter.net.Forwarder;
import io.drafter.net.Ipv4Cidr;
import io.drafter.net.NatConfig;
import io.drafter.peer.Peer;
import io.drafter.peer.PeerOptions;
import io.drafter.peer.bench.VmMigrationBenchmark.LoadClient;
import io.drafter.vm.SnapshotConfig;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmInstance;
import io.drafter.vm.qemu.QemuInstance;
import io.drafter.vm.qemu.QemuVmm;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the FUSE memory device costs the guest, and the TCG cold-start floor (issue 19), for the same 256 MiB Redis
 * snapshot that {@link VmMigrationBenchmark} migrates. Each of {@code bench.pairs} pairs runs:
 *
 * <ol>
 *   <li><b>load</b>, twice, in alternating order: a peer resumes the snapshot (copy-on-write over the package, every
 *       device on its FUSE mount) and {@code redis-benchmark} ({@code bench.clients} clients, {@code bench.requests}
 *       SET and as many GET) runs through the peer's forward 127.0.0.1:3333 after a warm-up of a tenth of that. Once
 *       with guest RAM on the memory device ({@code fuse}), once on a plain copy of it in {@code /dev/shm} ({@code
 *       plain}, see {@link BenchVmm}); all else is the same peer. Prints requests/s, and the host CPU seconds per wall
 *       second of this JVM (the peer: the benchmark itself only waits), of its live FUSE threads, and of QEMU.
 *   <li><b>floor</b>: no peer, QEMU on plain files. QEMU A resumes the snapshot and serves a writer (a SET every 5 ms,
 *       200 ms timeout, as in {@link VmMigrationBenchmark}); a fresh QEMU B is started ahead in ark1 on the same files,
 *       A is snapshotted in place ({@code BeforeSuspend}, stop, RAM flushed, state saved), B loads the state and
 *       {@code cont}s, the forward moves to ark1: a migration with nothing to copy. Prints the time from B's {@code
 *       cont} to the first and the 10th {@code PING} answered through the forward (fresh connections until one is
 *       answered), the writer's longest gap and the paused window (A stopped to B's {@code cont} answered).
 *   <li><b>migrate</b>: a peer in ark0 migrates to a peer in ark1 under the same writer (the same measures, so that
 *       drafter's downtime reads against the floor); then, under {@code redis-benchmark -t set} (the same clients),
 *       that peer migrates on to a third in ark0, and that one to a fourth in ark1, once with the source's
 *       pre-copy guest-RAM flushes and once without ({@link BenchVmm#flushing}), in alternating order: requests/s
 *       before the migration, during its full copy and during its dirty rounds (from {@code redis-benchmark}'s
 *       progress, 4 per second), each pre-copy flush (the peer's {@code fsync} of the memory file), and the flushes
 *       of its suspend.
 * </ol>
 *
 * <p>Usage: {@code MemoryDeviceBenchmark <package dir> <work dir>}; run by {@code scripts/bench-memory-device.sh}, which
 * builds the package and creates the namespaces ark0 and ark1. Root only.
 */
public final class MemoryDeviceBenchmark {
    /** Where plain guest RAM goes: tmpfs. Removed at the end (and by the script, for a JVM killed outright). */
    static final Path PLAIN_RAM_DIR = Path.of("/dev/shm/drafter-bench-memory");

    static final int CLIENTS = Integer.getInteger("bench.clients", 20);
    static final int REQUESTS = Integer.getInteger("bench.requests", 100_000);

    /** Linux reports process CPU times in clock ticks of 1/100 s (USER_HZ, fixed on x86). */
    static final long TICKS_PER_SECOND = 100;

    /** One load run. CPU in host CPU seconds per wall second of the measured {@code redis-benchmark} run. */
    record Load(String ram, double setRps, double getRps, double jvmCpu, double fuseCpu, double qemuCpu) {}

    /**
     * Cold start: from {@code cont} of the new QEMU to the first and 10th reply, the writer's longest gap, the paused
     * window (source stopped to {@code cont} answered), the forward's move (removed at A, installed at B).
     */
    record ColdStart(long firstMs, long tenthMs, long gapMs, long pausedMs, long lost) {}

    /**
     * A migration under {@code redis-benchmark}, the source's pre-copy RAM flushes on or off: requests/s in each window,
     * the flushes.
     */
    record Flushes(
            boolean flushing,
            double rpsBefore,
            double rpsFullCopy,
            double rpsRounds,
            long fullCopyMs,
            long roundsMs,
            int flushes,
            long flushMedianMs,
            long flushMaxMs,
            long flushTotalMs,
            long beforeSuspendMs,
            long pausedFlushMs) {}

    public static void main(String[] args) throws Exception {
        Path pkg = Path.of(args[0]).toAbsolutePath();
        Path work = Path.of(args[1]).toAbsolutePath();
        int pairs = Integer.getInteger("bench.pairs", 5);
        Files.createDirectories(work);
        Thread cleanup = Thread.ofPlatform().unstarted(() -> deleteQuietly(PLAIN_RAM_DIR));
        Runtime.getRuntime().addShutdownHook(cleanup);
        System.out.printf(
                Locale.ROOT,
                "redis-benchmark -c %d -n %d -t set,get through 127.0.0.1:%d; plain RAM in %s%n",
                CLIENTS,
                REQUESTS,
                VmMigrationBenchmark.PORT,
                PLAIN_RAM_DIR);
        List<Load> fuse = new ArrayList<>();
        List<Load> plain = new ArrayList<>();
        List<ColdStart> floors = new ArrayList<>();
        List<ColdStart> drafter = new ArrayList<>();
        List<Flushes> flushes = new ArrayList<>();
        try {
            for (int i = 0; i < pairs; i++) {
                // Alternate which goes first, so that a trend in the machine's load falls on both alike.
                for (boolean fuseFirst : new boolean[] {i % 2 == 0, i % 2 != 0}) {
                    Path dir = work.resolve((fuseFirst ? "fuse-" : "plain-") + i);
                    Load l = load(pkg, dir, !fuseFirst);
                    (fuseFirst ? fuse : plain).add(l);
                    print(i, l);
                    VmMigrationBenchmark.deleteTree(dir);
                }
                ColdStart f = floor(pkg, work.resolve("floor-" + i));
                floors.add(f);
                print(i, "floor", f);
                VmMigrationBenchmark.deleteTree(work.resolve("floor-" + i));
                migrate(pkg, work.resolve("migrate-" + i), i, drafter, flushes);
                VmMigrationBenchmark.deleteTree(work.resolve("migrate-" + i));
            }
        } finally {
            deleteQuietly(PLAIN_RAM_DIR);
            Runtime.getRuntime().removeShutdownHook(cleanup);
        }
        summarize(pairs, fuse, plain, floors, drafter, flushes);
    }

    // ------------------------------------------------------------------ load

    static Load load(Path pkg, Path work, boolean plainRam) throws Exception {
        BenchVmm vmm = new BenchVmm(new QemuVmm(), plainRam ? PLAIN_RAM_DIR : null);
        PeerOptions opts = VmMigrationBenchmark.peerOptions(
                VmMigrationBenchmark.devices(pkg, work.resolve("a")), "ark0", work.resolve("a/run"));
        try (Peer a = Peer.resumeLocal(opts, vmm)) {
            Replies.start(Duration.ofSeconds(60)).await(Duration.ofSeconds(70));
            // Warm-up: the guest's working set faulted in (through the device or not) and TCG's translations made.
            try (RedisBenchmark warm = RedisBenchmark.start(CLIENTS, Math.max(1000, REQUESTS / 10), "set,get")) {
                warm.await(Duration.ofMinutes(5));
            }
            long qemu = a.vm().pid();
            Cpu before = Cpu.sample(qemu);
            try (RedisBenchmark rb = RedisBenchmark.start(CLIENTS, REQUESTS, "set,get")) {
                rb.await(Duration.ofMinutes(10));
                Cpu after = Cpu.sample(qemu);
                double wallS = (after.wallNanos - before.wallNanos) / 1e9;
                return new Load(
                        plainRam ? "plain" : "fuse",
                        rb.total("SET"),
                        rb.total("GET"),
                        (after.jvmTicks - before.jvmTicks) / (double) TICKS_PER_SECOND / wallS,
                        before.fuseTicksUntil(after) / (double) TICKS_PER_SECOND / wallS,
                        (after.qemuTicks - before.qemuTicks) / (double) TICKS_PER_SECOND / wallS);
            }
        }
    }

    /** CPU used so far by this JVM, each of its FUSE serving threads ({@code fuse-*}, by thread id) and QEMU. */
    record Cpu(long wallNanos, long jvmTicks, Map<String, Long> fuseTicks, long qemuTicks) {
        static Cpu sample(long qemuPid) throws IOException {
            // The JVM names each thread's native thread after it (cut to 15 characters): fuse-<mount>-<n>.
            Map<String, Long> fuse = new java.util.HashMap<>();
            try (var tasks = Files.list(Path.of("/proc/self/task"))) {
                for (Path task : tasks.toList()) {
                    try {
                        if (Files.readString(task.resolve("comm")).startsWith("fuse-")) {
                            fuse.put(task.getFileName().toString(), ticks(task.resolve("stat")));
                        }
                    } catch (IOException ended) {
                        // the thread ended meanwhile
                    }
                }
            }
            return new Cpu(
                    System.nanoTime(),
                    ticks(Path.of("/proc/self/stat")),
                    fuse,
                    ticks(Path.of("/proc/" + qemuPid + "/stat")));
        }

        /**
         * Ticks the FUSE threads alive at {@code after} used since this sample (a thread that ended in between, the
         * server retires idle ones, is left out: a lower bound).
         */
        long fuseTicksUntil(Cpu after) {
            long sum = 0;
            for (var e : after.fuseTicks.entrySet()) {
                sum += e.getValue() - fuseTicks.getOrDefault(e.getKey(), 0L);
            }
            return sum;
        }

        /** utime + stime of {@code /proc/<pid>/stat} (fields 14 and 15; the command before them may hold spaces). */
        static long ticks(Path stat) throws IOException {
            String s = Files.readString(stat);
            String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        }
    }

    // ------------------------------------------------------------------ floor

    static ColdStart floor(Path pkg, Path work) throws Exception {
        Path files = work.resolve("files");
        VmMigrationBenchmark.copyPackage(pkg, files);
        Files.createDirectories(PLAIN_RAM_DIR);
        Path memory = PLAIN_RAM_DIR.resolve("floor-memory.bin");
        Files.move(files.resolve("memory.bin"), memory, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        try {
            SnapshotConfig snap = SnapshotConfig.read(files.resolve("config.json"));
            VmConfig aCfg = VmMigrationBenchmark.plainConfig(snap, files, memory, "ark0", work.resolve("a-run"));
            VmConfig bCfg = VmMigrationBenchmark.plainConfig(snap, files, memory, "ark1", work.resolve("b-run"));
            QemuVmm vmm = new QemuVmm();
            CommandRunner runner = new CommandRunner();
            Ipv4Cidr pool = Ipv4Cidr.parse(NatConfig.DEFAULT_HOST_VETH_CIDR);
            Forwarder fwd = null;
            try (QemuInstance a = vmm.resume(aCfg, files.resolve("state.bin"))) {
                fwd = Forwarder.open(VmMigrationBenchmark.forward("ark0"), pool, runner);
                try (LoadClient client = new LoadClient()) {
                    client.awaitServing(Duration.ofSeconds(60));
                    Thread.sleep(2000);
                    // As a destination peer does: B started ahead, on the same files (it maps guest RAM, reads
                    // nothing).
                    try (QemuInstance b = vmm.startDeferred(bCfg);
                            Forwarder.Plan bForward = VmMigrationBenchmark.stagedPlan(
                                    VmMigrationBenchmark.forward("ark1"), pool, runner)) {
                        long t0 = System.nanoTime();
                        VmInstance.SnapshotResult s = a.snapshot(work.resolve("state-out.bin"), Duration.ofMinutes(1));
                        long pausedAt = t0 + s.beforeSuspend().toNanos();
                        fwd.close();
                        fwd = null;
                        b.loadState(work.resolve("state-out.bin"));
                        Replies replies = Replies.start(Duration.ofSeconds(30));
                        b.cont();
                        long runningAt = System.nanoTime();
                        fwd = bForward.install();
                        Thread agent = Thread.ofPlatform().name("after-resume").start(() -> {
                            try {
                                b.afterResume(Duration.ofMinutes(1));
                            } catch (Exception e) {
                                System.out.println("floor: AfterResume failed: " + e.getMessage());
                            }
                        });
                        replies.await(Duration.ofSeconds(40));
                        Thread.sleep(3000);
                        client.stop();
                        agent.join(Duration.ofMinutes(1));
                        return new ColdStart(
                                (replies.firstAt() - runningAt) / 1_000_000,
                                (replies.tenthAt() - runningAt) / 1_000_000,
                                client.longestGapMs(),
                                (runningAt - pausedAt) / 1_000_000,
                                client.missing());
                    }
                }
            } finally {
                if (fwd != null) {
                    fwd.close();
                }
            }
        } finally {
            Files.deleteIfExists(memory);
        }
    }

    // ------------------------------------------------------------------ migrate

    static void migrate(Path pkg, Path work, int pair, List<ColdStart> drafter, List<Flushes> flushes)
            throws Exception {
        BenchVmm vmm = new BenchVmm(new QemuVmm(), null);
        PeerOptions aOpts = VmMigrationBenchmark.peerOptions(
                VmMigrationBenchmark.devices(pkg, work.resolve("a")), "ark0", work.resolve("a/run"));
        PeerOptions bOpts = VmMigrationBenchmark.peerOptions(
                VmMigrationBenchmark.devices(work.resolve("b/package"), null), "ark1", work.resolve("b/run"));
        PeerOptions cOpts = VmMigrationBenchmark.peerOptions(
                VmMigrationBenchmark.devices(work.resolve("c/package"), null), "ark0", work.resolve("c/run"));
        PeerOptions dOpts = VmMigrationBenchmark.peerOptions(
                VmMigrationBenchmark.devices(work.resolve("d/package"), null), "ark1", work.resolve("d/run"));
        Peer a = Peer.resumeLocal(aOpts, vmm);
        VmMigrationBenchmark.Migration toB = null;
        try {
            // A to B under the writer: drafter's cold start, to read against the floor.
            ColdStart cold;
            try (LoadClient client = new LoadClient()) {
                client.awaitServing(Duration.ofSeconds(60));
                Thread.sleep(2000);
                Map<SourcePhase, Replies> probe = new ConcurrentHashMap<>();
                SourceListener startProbe = new SourceListener() {
                    @Override
                    public void onPhase(SourcePhase from, SourcePhase to, Duration timeInFrom) {
                        if (to == SourcePhase.FINAL_SYNC) {
                            // A suspended: its forward is gone (it served through BeforeSuspend). Refused until B
                            // runs and installed its own.
                            probe.put(to, Replies.start(Duration.ofSeconds(60)));
                        }
                    }
                };
                toB = VmMigrationBenchmark.migrate(a, bOpts, vmm, startProbe, null);
                Replies replies = probe.get(SourcePhase.FINAL_SYNC);
                replies.await(Duration.ofSeconds(70));
                Thread.sleep(3000);
                client.stop();
                long runningAt = toB.b().runningAtNanos();
                cold = new ColdStart(
                        (replies.firstAt() - runningAt) / 1_000_000,
                        (replies.tenthAt() - runningAt) / 1_000_000,
                        client.longestGapMs(),
                        (runningAt - a.pausedAtNanos()) / 1_000_000,
                        client.missing());
            }
            drafter.add(cold);
            print(pair, "drafter", cold);

            // B to C to D under redis-benchmark, once with the peer's pre-copy RAM flushes and once without (in
            // alternating order): what the flushes cost the guest, apart from the copy's own cost.
            boolean flushingFirst = pair % 2 == 0;
            Thread.sleep(3000); // past B's post-copy tail and cold start
            try (LoadedMigration toC = loadedMigration(toB.b(), cOpts, vmm, flushingFirst)) {
                flushes.add(toC.result());
                print(pair, toC.result());
                Thread.sleep(3000);
                try (LoadedMigration toD = loadedMigration(toC.migration().b(), dOpts, vmm, !flushingFirst)) {
                    flushes.add(toD.result());
                    print(pair, toD.result());
                }
            }
        } finally {
            if (toB != null) {
                toB.close();
            }
            a.close();
        }
    }

    /** A migration done under {@code redis-benchmark}, and what it measured; closing it closes the new peer. */
    record LoadedMigration(VmMigrationBenchmark.Migration migration, Flushes result) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            migration.close();
        }
    }

    /**
     * Migrates {@code from}'s VM to a new peer with {@code to} under {@code redis-benchmark -t set}, the source's
     * pre-copy RAM flushes on or off: SET requests/s before, during the full copy and the dirty rounds; the flushes.
     */
    static LoadedMigration loadedMigration(Peer from, PeerOptions to, BenchVmm vmm, boolean flushing) throws Exception {
        try (RedisBenchmark rb = RedisBenchmark.start(CLIENTS, 50 * REQUESTS, "set")) {
            Thread.sleep(5000);
            long[] phaseAt = new long[SourcePhase.values().length];
            SourceListener phases = new SourceListener() {
                @Override
                public void onPhase(SourcePhase f, SourcePhase t, Duration timeInFrom) {
                    phaseAt[t.ordinal()] = System.nanoTime();
                }
            };
            int flushesBefore = vmm.flushes().size();
            vmm.flushing(flushing);
            long t0 = System.nanoTime();
            VmMigrationBenchmark.Migration m;
            try {
                m = VmMigrationBenchmark.migrate(from, to, vmm, phases, null);
            } finally {
                vmm.flushing(true);
            }
            long rounds = phaseAt[SourcePhase.DIRTY_ROUNDS.ordinal()];
            long suspending = phaseAt[SourcePhase.SUSPENDING.ordinal()];
            List<BenchVmm.Flush> all = vmm.flushes();
            long[] ms = all.subList(flushesBefore, all.size()).stream()
                    .filter(x -> x.startNanos() < suspending)
                    .mapToLong(x -> x.nanos() / 1_000_000)
                    .toArray();
            VmInstance.SnapshotResult s = vmm.lastSnapshot();
            if (!rb.alive()) {
                System.out.println("flushes: redis-benchmark ended during the migration: " + rb.tail());
            }
            return new LoadedMigration(
                    m,
                    new Flushes(
                            flushing,
                            rb.meanRps(t0 - TimeUnit.SECONDS.toNanos(4), t0),
                            rb.meanRps(t0, rounds),
                            rb.meanRps(rounds, suspending),
                            (rounds - t0) / 1_000_000,
                            (suspending - rounds) / 1_000_000,
                            ms.length,
                            median(ms),
                            Arrays.stream(ms).max().orElse(0),
                            Arrays.stream(ms).sum(),
                            s == null ? -1 : s.beforeSuspend().toMillis(),
                            s == null ? -1 : s.pauseToFlushed().toMillis()));
        }
    }

    // ------------------------------------------------------------------ printing

    static void print(int pair, Load l) {
        System.out.printf(
                Locale.ROOT,
                "load    %-6s %2d  SET %8.0f req/s  GET %8.0f req/s  CPU s/s: peer JVM %.3f (FUSE threads %.3f), QEMU"
                        + " %.3f%n",
                l.ram(),
                pair + 1,
                l.setRps(),
                l.getRps(),
                l.jvmCpu(),
                l.fuseCpu(),
                l.qemuCpu());
    }

    static void print(int pair, String what, ColdStart c) {
        System.out.printf(
                Locale.ROOT,
                "%-7s        %2d  cont -> first reply %5d ms, 10th %5d ms; writer's gap %5d ms, paused %4d ms, lost %d%n",
                what,
                pair + 1,
                c.firstMs(),
                c.tenthMs(),
                c.gapMs(),
                c.pausedMs(),
                c.lost());
    }

    static void print(int pair, Flushes f) {
        System.out.printf(
                Locale.ROOT,
                "flushes %-3s    %2d  SET req/s before %.0f, full copy %.0f (%d ms), dirty rounds %.0f (%d ms); %d pre-copy"
                        + " RAM flushes median %d ms, max %d, total %d ms; suspend: BeforeSuspend+first flush %d ms,"
                        + " paused flush %d ms%n",
                f.flushing() ? "on" : "off",
                pair + 1,
                f.rpsBefore(),
                f.rpsFullCopy(),
                f.fullCopyMs(),
                f.rpsRounds(),
                f.roundsMs(),
                f.flushes(),
                f.flushMedianMs(),
                f.flushMaxMs(),
                f.flushTotalMs(),
                f.beforeSuspendMs(),
                f.pausedFlushMs());
    }

    static void summarize(
            int pairs,
            List<Load> fuse,
            List<Load> plain,
            List<ColdStart> floors,
            List<ColdStart> drafter,
            List<Flushes> flushes) {
        double[] setRatio = new double[pairs];
        double[] getRatio = new double[pairs];
        for (int i = 0; i < pairs; i++) {
            setRatio[i] = fuse.get(i).setRps() / plain.get(i).setRps();
            getRatio[i] = fuse.get(i).getRps() / plain.get(i).getRps();
        }
        System.out.printf(Locale.ROOT, "%nmedians over %d pairs:%n", pairs);
        for (List<Load> l : List.of(fuse, plain)) {
            System.out.printf(
                    Locale.ROOT,
                    "  %-5s RAM: SET %.0f req/s, GET %.0f req/s; CPU s/s peer JVM %.3f (FUSE threads %.3f), QEMU %.3f%n",
                    l.getFirst().ram(),
                    medianOf(l, Load::setRps),
                    medianOf(l, Load::getRps),
                    medianOf(l, Load::jvmCpu),
                    medianOf(l, Load::fuseCpu),
                    medianOf(l, Load::qemuCpu));
        }
        // On a shared machine QEMU does not always get its core: requests per second of QEMU's CPU take that out.
        double[] perCpuRatio = new double[pairs];
        for (int i = 0; i < pairs; i++) {
            perCpuRatio[i] = perQemuCpuSecond(fuse.get(i)) / perQemuCpuSecond(plain.get(i));
        }
        System.out.printf(
                Locale.ROOT,
                "  ratio memory device / plain RAM (median of the pairs' ratios): SET %.2f, GET %.2f (target >= 0.8);"
                        + " SET+GET requests per QEMU CPU second %.2f%n",
                VmMigrationBenchmark.medianOf(setRatio),
                VmMigrationBenchmark.medianOf(getRatio),
                VmMigrationBenchmark.medianOf(perCpuRatio));
        for (var e : List.of(Map.entry("floor", floors), Map.entry("drafter", drafter))) {
            List<ColdStart> c = e.getValue();
            System.out.printf(
                    Locale.ROOT,
                    "  %-7s cont -> first reply %d ms, 10th %d ms; writer's gap %d ms; paused %d ms; lost %d%n",
                    e.getKey(),
                    medianL(c, ColdStart::firstMs),
                    medianL(c, ColdStart::tenthMs),
                    medianL(c, ColdStart::gapMs),
                    medianL(c, ColdStart::pausedMs),
                    c.stream().mapToLong(ColdStart::lost).sum());
        }
        long[] above = new long[pairs];
        for (int i = 0; i < pairs; i++) {
            above[i] = drafter.get(i).gapMs() - floors.get(i).gapMs();
        }
        System.out.printf(
                Locale.ROOT,
                "  drafter's client-visible downtime above the floor (median of the pairs' differences): %d ms%n",
                median(above));
        for (boolean on : new boolean[] {true, false}) {
            List<Flushes> l = flushes.stream().filter(f -> f.flushing() == on).toList();
            System.out.printf(
                    Locale.ROOT,
                    "  migration under redis-benchmark, pre-copy RAM flushes %s: SET req/s before %.0f, full copy %.0f"
                            + " (ratio %.2f), dirty rounds %.0f (ratio %.2f); flush median %d ms (worst %d), %d flushes;"
                            + " suspend's paused flush %d ms%n",
                    on ? "on" : "off",
                    medianOf(l, Flushes::rpsBefore),
                    medianOf(l, Flushes::rpsFullCopy),
                    medianOf(l, f -> f.rpsFullCopy() / f.rpsBefore()),
                    medianOf(l, Flushes::rpsRounds),
                    medianOf(l, f -> f.rpsRounds() / f.rpsBefore()),
                    medianL(l, Flushes::flushMedianMs),
                    l.stream().mapToLong(Flushes::flushMaxMs).max().orElse(0),
                    medianL(l, x -> x.flushes()),
                    medianL(l, Flushes::pausedFlushMs));
        }
        List<Flushes> on = flushes.stream().filter(Flushes::flushing).toList();
        List<Flushes> off = flushes.stream().filter(f -> !f.flushing()).toList();
        double[] copyOnOff = new double[pairs];
        double[] roundsOnOff = new double[pairs];
        for (int i = 0; i < pairs; i++) {
            copyOnOff[i] = (on.get(i).rpsFullCopy() / on.get(i).rpsBefore())
                    / (off.get(i).rpsFullCopy() / off.get(i).rpsBefore());
            roundsOnOff[i] = (on.get(i).rpsRounds() / on.get(i).rpsBefore())
                    / (off.get(i).rpsRounds() / off.get(i).rpsBefore());
        }
        System.out.printf(
                Locale.ROOT,
                "  with / without the flushes (median of the pairs' ratios of the slowdowns): full copy %.2f, dirty"
                        + " rounds %.2f%n",
                VmMigrationBenchmark.medianOf(copyOnOff),
                VmMigrationBenchmark.medianOf(roundsOnOff));
    }

    /** Requests per second of QEMU's CPU: the harmonic mean of SET and GET requests/s over QEMU's CPU per second. */
    static double perQemuCpuSecond(Load l) {
        return 2 / (1 / l.setRps() + 1 / l.getRps()) / l.qemuCpu();
    }

    static <T> double medianOf(List<T> l, ToDoubleFunction<T> f) {
        return VmMigrationBenchmark.medianOf(l.stream().mapToDouble(f).toArray());
    }

    static <T> long medianL(List<T> l, ToLongFunction<T> f) {
        return median(l.stream().mapToLong(f).toArray());
    }

    static long median(long[] v) {
        return VmMigrationBenchmark.median(v);
    }

    static void deleteQuietly(Path p) {
        try {
            VmMigrationBenchmark.deleteTree(p);
        } catch (IOException e) {
            System.out.println("could not remove " + p + ": " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------ clients

    /**
     * {@code PING} through the forward from a fresh connection each time one is refused or not accepted within 100 ms,
     * until 10 are answered on one connection: when the first and the 10th answer came.
     */
    static final class Replies {
        private volatile long firstAt;
        private volatile long tenthAt;
        private final Thread thread;

        private Replies(Duration limit) {
            long deadline = System.nanoTime() + limit.toNanos();
            thread = Thread.ofPlatform().name("redis-probe").start(() -> run(deadline));
        }

        static Replies start(Duration limit) {
            return new Replies(limit);
        }

        private void run(long deadline) {
            int answered = 0;
            while (answered < 10 && System.nanoTime() < deadline) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", VmMigrationBenchmark.PORT), 100);
                    s.setSoTimeout(5000);
                    while (answered < 10) {
                        if (!"+PONG".equals(LoadClient.command(s, "PING"))) {
                            break;
                        }
                        answered++;
                        long now = System.nanoTime();
                        if (answered == 1) {
                            firstAt = now;
                        } else if (answered == 10) {
                            tenthAt = now;
                        }
                    }
                } catch (IOException e) {
                    try {
                        Thread.sleep(1);
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
            }
        }

        /** Waits for the 10th answer; fails if it did not come. */
        void await(Duration timeout) throws InterruptedException {
            if (!thread.join(timeout)) {
                thread.interrupt();
            }
            if (tenthAt == 0) {
                throw new IllegalStateException(
                        "Redis did not answer 10 PINGs on 127.0.0.1:" + VmMigrationBenchmark.PORT);
            }
        }

        long firstAt() {
            return firstAt;
        }

        long tenthAt() {
            return tenthAt;
        }
    }

    /**
     * A {@code redis-benchmark} run against 127.0.0.1:PORT ({@code -q}, output unbuffered): its progress lines (the
     * requests/s of the last 250 ms, stamped when read) and its totals per test. Closing it stops the process.
     */
    static final class RedisBenchmark implements AutoCloseable {
        private static final Pattern PROGRESS = Pattern.compile("^(\\S+): rps=([0-9.]+)");
        private static final Pattern TOTAL = Pattern.compile("^(\\S+): ([0-9.]+) requests per second");

        record Sample(long atNanos, String test, double rps) {}

        private final Process process;
        private final List<Sample> samples = new ArrayList<>();
        private final Map<String, Double> totals = new ConcurrentHashMap<>();
        private final StringBuilder tail = new StringBuilder();
        private final Thread reader;

        private RedisBenchmark(Process process) {
            this.process = process;
            this.reader = Thread.ofPlatform().name("redis-benchmark-out").start(this::read);
        }

        static RedisBenchmark start(int clients, int requests, String tests) throws IOException {
            // stdbuf: redis-benchmark writes its progress with printf and '\r', block-buffered into a pipe.
            Process p = new ProcessBuilder(
                            "stdbuf",
                            "-o0",
                            "redis-benchmark",
                            "-h",
                            "127.0.0.1",
                            "-p",
                            Integer.toString(VmMigrationBenchmark.PORT),
                            "-c",
                            Integer.toString(clients),
                            "-n",
                            Integer.toString(requests),
                            "-t",
                            tests,
                            "-q")
                    .redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
            return new RedisBenchmark(p);
        }

        private void read() {
            StringBuilder line = new StringBuilder();
            try (InputStream in = process.getInputStream()) {
                for (int c; (c = in.read()) != -1; ) {
                    if (c == '\r' || c == '\n') {
                        accept(line.toString().strip());
                        line.setLength(0);
                    } else {
                        line.append((char) c);
                    }
                }
            } catch (IOException e) {
                // the process was stopped
            }
            accept(line.toString().strip());
        }

        private void accept(String line) {
            if (line.isEmpty()) {
                return;
            }
            long now = System.nanoTime();
            Matcher total = TOTAL.matcher(line);
            Matcher progress = PROGRESS.matcher(line);
            synchronized (samples) {
                if (total.find()) {
                    totals.put(total.group(1), Double.parseDouble(total.group(2)));
                } else if (progress.find()) {
                    samples.add(new Sample(now, progress.group(1), Double.parseDouble(progress.group(2))));
                }
                tail.append(line.getBytes(StandardCharsets.UTF_8).length > 200 ? line.substring(0, 200) : line)
                        .append(" | ");
                if (tail.length() > 2000) {
                    tail.delete(0, tail.length() - 2000);
                }
            }
        }

        /** Waits for the process to end; fails if it does not within {@code timeout} or ends with an error. */
        void await(Duration timeout) throws InterruptedException, IOException {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IOException("could not run redis-benchmark: not done within " + timeout);
            }
            reader.join(Duration.ofSeconds(10));
            if (process.exitValue() != 0) {
                throw new IOException("could not run redis-benchmark: exit " + process.exitValue() + ": " + tail());
            }
        }

        boolean alive() {
            return process.isAlive();
        }

        String tail() {
            synchronized (samples) {
                return tail.toString();
            }
        }

        /** The total requests/s it printed for {@code test} ({@code SET}, {@code GET}). */
        double total(String test) throws IOException {
            Double v = totals.get(test);
            if (v == null) {
                throw new IOException("could not read redis-benchmark's " + test + " result: " + tail());
            }
            return v;
        }

        /** The mean of the progress samples read in [{@code fromNanos}, {@code toNanos}), or 0 without any. */
        double meanRps(long fromNanos, long toNanos) {
            synchronized (samples) {
                return samples.stream()
                        .filter(s -> s.atNanos() >= fromNanos && s.atNanos() < toNanos)
                        .mapToDouble(Sample::rps)
                        .average()
                        .orElse(0);
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            reader.join(Duration.ofSeconds(5));
        }
    }
}
