package io.drafter.migration.bench;

import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.source.DirtyPolicy;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceDevice;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SuspendHook;
import io.drafter.migration.testing.Loopback;
import io.drafter.migration.testing.Migration;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.dirty.DirtyTrackingDevice;
import io.drafter.storage.source.FileBlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Migration throughput and latency over loopback, each against a baseline measured in the same run.
 *
 * <ul>
 *   <li>Throughput: a 1 GiB device of random bytes and a 4 GiB mostly-zero sparse file (1 block in 64 holds data),
 *       migrated with the real engines in token mode (every frame after the handshake sealed with AES-256-GCM);
 *       baseline = the same device bytes read and pushed through a plain socket whose receiver only reads them (no
 *       protocol, no storage at the far end: the stricter baseline). The random device also migrates without a token
 *       (plain TCP allowed explicitly, frames in clear), so that the cost of sealing shows in the same run.
 *   <li>Post-copy first-read latency: during a migration, destination reads of blocks that have not arrived yet
 *       (p50/p99).
 *   <li>Hand-over: time from the suspend hook's return to the destination's acknowledgement of authority, and to
 *       every final block delivered, with 200 dirty 64 KiB blocks written during suspend.
 * </ul>
 *
 * <p>Each throughput line is followed by the CPU time per GiB (whole process, median) of the plain socket and of the
 * migrations.
 *
 * <p>Run with {@code scripts/bench-migration.sh}; arguments: {@code [randomMiB] [zeroMiB]} (defaults 1024 4096); {@code -Dbench.rounds} (default 5).
 */
public final class MigrationBenchmark {
    static final SharedToken TOKEN = SharedToken.of("benchmark-token-0123456789");
    static final Duration WAIT = Duration.ofMinutes(10);
    static final int BLOCK = Integer.getInteger("bench.blockKiB", 256) << 10;
    static final int ROUNDS = Integer.getInteger("bench.rounds", 5);
    static final int WINDOW = Integer.getInteger("bench.windowMiB", 16) << 20;

    public static void main(String[] args) throws Exception {
        long randomMiB = args.length > 0 ? Long.parseLong(args[0]) : 1024;
        long zeroMiB = args.length > 1 ? Long.parseLong(args[1]) : 4096;
        Path tmp = Files.createTempDirectory("drafter-bench-migration");
        try {
            System.out.printf(
                    Locale.ROOT,
                    "drafter migration benchmark: block %d KiB, loopback TCP, token mode (frames sealed with"
                            + " AES-256-GCM) unless said otherwise, no compression, %d alternating runs%n",
                    BLOCK >> 10,
                    ROUNDS);
            System.out.println("load average at start: " + loadAverage());
            throughput("random", randomDevice(randomMiB << 20), false, tmp);
            FileBlockDevice sparse = sparseMostlyZero(tmp.resolve("zero-src.img"), zeroMiB << 20);
            throughput("mostly-zero", sparse, true, tmp);
            sparse.close();
            missingBlockLatency();
            handOver();
            System.out.println("load average at end: " + loadAverage());
        } finally {
            try (var files = Files.list(tmp)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(tmp);
        }
    }

    /** The 1, 5 and 15 minute load averages: a ratio measured at a high load says more about the machine. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }

    static MemoryBlockDevice randomDevice(long size) throws IOException {
        MemoryBlockDevice d = new MemoryBlockDevice("random", size, BLOCK);
        SplittableRandom r = new SplittableRandom(1);
        byte[] buf = new byte[1 << 20];
        for (long off = 0; off < size; off += buf.length) {
            r.nextBytes(buf);
            d.write(ByteBuffer.wrap(buf, 0, (int) Math.min(buf.length, size - off)), off);
        }
        return d;
    }

    static FileBlockDevice sparseMostlyZero(Path file, long size) throws IOException {
        FileBlockDevice d = FileBlockDevice.create(file, size, BLOCK);
        SplittableRandom r = new SplittableRandom(2);
        byte[] buf = new byte[BLOCK];
        for (long b = 0; b < d.blockCount(); b += 64) {
            r.nextBytes(buf);
            d.write(ByteBuffer.wrap(buf), b * BLOCK);
        }
        return d;
    }

    static void throughput(String what, BlockDevice device, boolean sparseDestination, Path tmp) throws Exception {
        double mib = device.sizeBytes() / (double) (1 << 20);
        // Warm both paths once on a slice so JIT and page cache treat them alike.
        baseline(device, Math.min(device.sizeBytes(), 64L << 20), null);
        migrate(what + "-warmup", new Slice(device, Math.min(device.sizeBytes(), 64L << 20)), false, tmp, TOKEN);
        boolean clear = !sparseDestination;
        if (clear) {
            migrate(what + "-warmup", new Slice(device, Math.min(device.sizeBytes(), 64L << 20)), false, tmp, null);
        }
        // The machine is shared: alternate the runs, and report the median of each (the primary ratio) and the best
        // of each, so that neither a noisy moment nor one lucky run decides the ratio.
        // CPU time of the whole process per run (user and system, all threads, both ends' kernel work included): it
        // depends less on what else runs on a shared machine than throughput does, and on 2 cores it bounds it.
        long[][] cpu = new long[4][ROUNDS];
        long[] base = new long[ROUNDS];
        long[] copy = new long[ROUNDS];
        long[] migr = new long[ROUNDS];
        long[] plain = new long[ROUNDS];
        long[] mig = null;
        for (int round = 0; round < ROUNDS; round++) {
            long c0 = cpuNanos();
            base[round] = baseline(device, device.sizeBytes(), null);
            cpu[0][round] = cpuNanos() - c0;
            if (!sparseDestination) {
                try (MemoryBlockDevice target = new MemoryBlockDevice("copy", device.sizeBytes(), BLOCK)) {
                    c0 = cpuNanos();
                    copy[round] = baseline(device, device.sizeBytes(), target);
                    cpu[3][round] = cpuNanos() - c0;
                }
            }
            mig = migrate(what, device, sparseDestination, tmp, TOKEN);
            migr[round] = mig[0];
            cpu[1][round] = mig[3];
            if (clear) {
                long[] p = migrate(what, device, sparseDestination, tmp, null);
                plain[round] = p[0];
                cpu[2][round] = p[3];
            }
        }
        System.out.printf(
                Locale.ROOT,
                "%-12s %6.0f MiB  plain socket %7.1f MiB/s  migration (token, sealed) %7.1f MiB/s  ratio %.2f (best"
                        + " of each: %.2f)  (wire %.1f MiB, %d zero blocks)%n",
                what,
                mib,
                mibs(mib, median(base)),
                mibs(mib, median(migr)),
                median(base) / (double) median(migr),
                min(base) / (double) min(migr),
                mig[1] / (double) (1 << 20),
                mig[2]);
        if (!sparseDestination) {
            System.out.printf(
                    Locale.ROOT,
                    "%-12s %6.0f MiB  plain socket into a memory device at the far end %7.1f MiB/s  ratio %.2f (best of"
                            + " each: %.2f)%n",
                    what,
                    mib,
                    mibs(mib, median(copy)),
                    median(copy) / (double) median(migr),
                    min(copy) / (double) min(migr));
        }
        if (clear) {
            System.out.printf(
                    Locale.ROOT,
                    "%-12s %6.0f MiB  migration without token (plain TCP, frames in clear) %7.1f MiB/s  ratio to the"
                            + " plain socket %.2f (best of each: %.2f); sealed against clear %.2f (best of each: %.2f)%n",
                    what,
                    mib,
                    mibs(mib, median(plain)),
                    median(base) / (double) median(plain),
                    min(base) / (double) min(plain),
                    median(plain) / (double) median(migr),
                    min(plain) / (double) min(migr));
        }
        double gib = device.sizeBytes() / (double) (1L << 30);
        System.out.printf(
                Locale.ROOT,
                "%-12s %6.0f MiB  CPU time per GiB (median, whole process): plain socket %.2f s%s, migration (token,"
                        + " sealed) %.2f s%s%n",
                what,
                mib,
                median(cpu[0]) / 1e9 / gib,
                clear ? String.format(Locale.ROOT, " (into a memory device %.2f s)", median(cpu[3]) / 1e9 / gib) : "",
                median(cpu[1]) / 1e9 / gib,
                clear
                        ? String.format(Locale.ROOT, ", migration without token %.2f s", median(cpu[2]) / 1e9 / gib)
                        : "");
    }

    /** CPU time of this process so far (all threads, user and system). */
    static long cpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean)
                        java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    static double mibs(double mib, long ns) {
        return mib / (ns / 1e9);
    }

    static long median(long[] ns) {
        long[] s = ns.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    static long min(long[] ns) {
        return Arrays.stream(ns).min().orElseThrow();
    }

    /**
     * Migrates {@code device} with the real engines, in token mode with {@code token} (frames sealed), or without one
     * over plain TCP (allowed explicitly, frames in clear); returns {nanoseconds, wire bytes, zero blocks, CPU
     * nanoseconds of the process meanwhile}.
     */
    static long[] migrate(String what, BlockDevice device, boolean sparseDestination, Path tmp, SharedToken token)
            throws Exception {
        DirtyTrackingDevice tracker = new DirtyTrackingDevice(device);
        Path dstFile = tmp.resolve(what + "-dst.img");
        // Destination storage is made before the clock starts: the baseline has none to make.
        BlockDevice target = sparseDestination
                ? FileBlockDevice.create(dstFile, device.sizeBytes(), BLOCK)
                : new MemoryBlockDevice(what, device.sizeBytes(), BLOCK);
        DestinationStorage storage = DestinationStorage.expecting(Map.of(what, target), true);
        Loopback.Pair pair = Loopback.plain();
        long c0 = cpuNanos();
        long t0 = System.nanoTime();
        Migration m = Migration.start(
                pair,
                storage,
                DestinationOptions.defaults()
                        .withToken(token)
                        .withPlainTcpAllowed(token == null)
                        .withWindowBytes(WINDOW),
                List.of(new SourceDevice(what, tracker, null, DirtyPolicy.NO_ROUNDS)),
                SourceOptions.defaults().withToken(token).withPlainTcpAllowed(token == null),
                () -> {});
        MigrationDestination dst = m.destination();
        MigrationSource src = m.source();
        SourceCounters c = src.awaitCompleted(WAIT);
        dst.awaitResumable(WAIT);
        long ns = System.nanoTime() - t0;
        long cpu = cpuNanos() - c0;
        target.close();
        Files.deleteIfExists(dstFile);
        return new long[] {ns, c.bytesSent(), c.zeroBlocks(), cpu};
    }

    /** The first {@code size} bytes of a device, for warm-up runs. */
    static final class Slice extends io.drafter.storage.ForwardingBlockDevice {
        private final long size;

        Slice(BlockDevice d, long size) {
            super(d);
            this.size = size;
        }

        @Override
        public long sizeBytes() {
            return size;
        }

        @Override
        public void close() {}
    }

    /**
     * Reads {@code bytes} of {@code device} and pushes them through a plain loopback socket; the receiver only reads
     * them, or writes them into {@code target} if given. Returns nanoseconds.
     */
    static long baseline(BlockDevice device, long bytes, BlockDevice target) throws Exception {
        Loopback.Pair pair = Loopback.plain();
        Connection rx = pair.destination();
        Thread receiver = Thread.ofPlatform().start(() -> {
            byte[] buf = new byte[BLOCK];
            long off = 0;
            try (InputStream in = rx.input()) {
                while (true) {
                    int n = in.readNBytes(buf, 0, buf.length);
                    if (n <= 0) {
                        break;
                    }
                    if (target != null) {
                        target.write(ByteBuffer.wrap(buf, 0, n), off);
                    }
                    off += n;
                }
            } catch (IOException ignored) {
                // end of run
            }
        });
        long t0 = System.nanoTime();
        byte[] buf = new byte[BLOCK];
        try (OutputStream out = pair.source().output()) {
            for (long off = 0; off < bytes; off += BLOCK) {
                int len = (int) Math.min(BLOCK, bytes - off);
                ByteBuffer b = ByteBuffer.wrap(buf, 0, len);
                device.read(b, off);
                out.write(buf, 0, len);
            }
        }
        receiver.join();
        long ns = System.nanoTime() - t0;
        pair.source().close();
        rx.close();
        return ns;
    }

    static void missingBlockLatency() throws Exception {
        long size = 512L << 20;
        MemoryBlockDevice device = randomDevice(size);
        DirtyTrackingDevice tracker = new DirtyTrackingDevice(device);
        Loopback.Pair pair = Loopback.plain();
        Migration m = Migration.start(
                pair,
                DestinationStorage.inMemory(),
                DestinationOptions.defaults().withToken(TOKEN),
                List.of(new SourceDevice("disk", tracker, null, DirtyPolicy.NO_ROUNDS)),
                SourceOptions.defaults().withToken(TOKEN),
                () -> {});
        MigrationDestination dst = m.destination();
        MigrationSource src = m.source();
        WaitingDevice disk = dst.awaitDevices(WAIT).get("disk");
        SplittableRandom r = new SplittableRandom(3);
        List<Long> latencies = new ArrayList<>();
        ByteBuffer buf = ByteBuffer.allocate(BLOCK);
        long blocks = disk.blockCount();
        while (latencies.size() < 200 && !disk.isComplete()) {
            long b = blocks / 2 + r.nextLong(blocks / 2);
            if (disk.isPresent(b)) {
                continue;
            }
            buf.clear();
            long t0 = System.nanoTime();
            disk.read(buf, b * BLOCK);
            latencies.add(System.nanoTime() - t0);
        }
        src.awaitCompleted(WAIT);
        dst.awaitCompleted(WAIT);
        device.close();
        disk.close();
        long[] l = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
        System.out.printf(
                Locale.ROOT,
                "first read of a block not yet arrived (%d KiB, requested with NEED), during a 512 MiB copy: n=%d p50 %.2f ms p99 %.2f ms%n",
                BLOCK >> 10,
                l.length,
                pct(l, 50) / 1e6,
                pct(l, 99) / 1e6);
    }

    static void handOver() throws Exception {
        int bs = 64 << 10;
        List<Long> toAuthority = new ArrayList<>();
        List<Long> toGrant = new ArrayList<>();
        List<Long> toComplete = new ArrayList<>();
        for (int run = 0; run < 7; run++) {
            MemoryBlockDevice device = new MemoryBlockDevice("memory", 256L << 20, bs);
            DirtyTrackingDevice tracker = new DirtyTrackingDevice(device);
            SplittableRandom r = new SplittableRandom(run);
            long[] dirty = r.longs(0, device.blockCount()).distinct().limit(200).toArray();
            long[] hookReturnNs = new long[1];
            SuspendHook hook = () -> {
                byte[] data = new byte[bs];
                for (long b : dirty) {
                    r.nextBytes(data);
                    tracker.write(ByteBuffer.wrap(data), b * bs);
                }
                hookReturnNs[0] = System.nanoTime();
            };
            Loopback.Pair pair = Loopback.plain();
            Migration m = Migration.start(
                    pair,
                    DestinationStorage.inMemory(),
                    DestinationOptions.defaults().withToken(TOKEN),
                    List.of(new SourceDevice("memory", tracker, null, DirtyPolicy.NO_ROUNDS)),
                    SourceOptions.defaults().withToken(TOKEN),
                    hook);
            MigrationDestination dst = m.destination();
            MigrationSource src = m.source();
            src.awaitAuthorityTransferred(WAIT);
            long authNs = System.nanoTime();
            dst.awaitCompleted(WAIT);
            long doneNs = System.nanoTime();
            SourceCounters c = src.awaitCompleted(WAIT);
            if (c.dirtyPerRound().get("memory").getLast() != 200) {
                throw new IllegalStateException("expected 200 final dirty blocks, got " + c.dirtyPerRound());
            }
            if (run > 1) { // the first runs warm up
                toAuthority.add(c.suspendToAuthority().toNanos());
                toGrant.add(c.suspendToGrant().toNanos());
                toComplete.add(doneNs - hookReturnNs[0]);
            }
            device.close();
            for (var w : dst.awaitResumable(WAIT).devices().values()) {
                w.close();
            }
            if (authNs < hookReturnNs[0]) {
                throw new IllegalStateException("authority before suspend?");
            }
        }
        long[] a = toAuthority.stream().mapToLong(Long::longValue).sorted().toArray();
        long[] g = toGrant.stream().mapToLong(Long::longValue).sorted().toArray();
        long[] d = toComplete.stream().mapToLong(Long::longValue).sorted().toArray();
        System.out.printf(
                Locale.ROOT,
                "hand-over with 200 dirty 64 KiB blocks (median of %d): suspend hook -> authority acknowledged %.2f ms;"
                        + " -> grant written behind the last block %.2f ms; -> destination completed %.2f ms%n",
                a.length,
                pct(a, 50) / 1e6,
                pct(g, 50) / 1e6,
                pct(d, 50) / 1e6);
    }

    static long pct(long[] sorted, int p) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }
}
