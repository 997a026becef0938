package io.drafter.storage.bench;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.cow.CopyOnWriteDevice;
import io.drafter.storage.dirty.DirtyTrackingDevice;
import io.drafter.storage.source.FileBlockDevice;
import io.drafter.storage.volatility.VolatilityMonitor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Throughput of the storage stack a peer uses (copy-on-write over a file base, dirty tracking on, volatility
 * monitor) against plain {@link FileChannel} positional I/O on the same kind of file, in the same run.
 *
 * <p>Usage: {@code StorageBenchmark [dir] [sizeMiB] [seconds-per-case]}; run by {@code scripts/bench-storage.sh}.
 * Both sides work on page-cached files of the same size; each case runs {@value #ROUNDS} times, alternating raw and
 * stack, and the median is reported. Writes are measured after a warm-up pass, so the copy-on-write side is in
 * steady state (its first-write copy cost is reported separately).
 */
public final class StorageBenchmark {
    static final int ROUNDS = 5;
    static final int DEVICE_BLOCK = 64 * 1024;

    interface Io {
        void run(ByteBuffer buf, long offset) throws IOException;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory(args.length > 0 ? Path.of(args[0]) : Path.of("/tmp"), "drafter-bench");
        long size = (args.length > 1 ? Long.parseLong(args[1]) : 512) << 20;
        double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 0.5;
        try {
            run(dir, size, seconds);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    static void run(Path dir, long size, double seconds) throws IOException {
        Path rawFile = dir.resolve("raw");
        Path base = dir.resolve("base");
        fill(rawFile, size);
        fill(base, size);
        try (FileChannel raw = FileChannel.open(rawFile, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            CopyOnWriteDevice cow = CopyOnWriteDevice.open(
                    FileBlockDevice.open(base, DEVICE_BLOCK, false),
                    FileBlockDevice.create(dir.resolve("overlay"), size, DEVICE_BLOCK),
                    dir.resolve("state"));
            DirtyTrackingDevice dirty = new DirtyTrackingDevice(cow);
            dirty.startTracking();
            try (BlockDevice stack = new VolatilityMonitor(dirty, Duration.ofMinutes(30))) {
                long firstWriteStart = System.nanoTime();
                sweep(stack::write, size, 1 << 20, true); // first writes: copy-on-write fills the overlay
                double firstWriteGbps = size / ((System.nanoTime() - firstWriteStart) / 1e9) / 1e9;
                sweep((b, o) -> writeRaw(raw, b, o), size, 1 << 20, true);
                System.out.printf(
                        Locale.ROOT,
                        "storage benchmark: %d MiB files in %s, device block %d KiB, median of %d rounds%n",
                        size >> 20,
                        dir,
                        DEVICE_BLOCK >> 10,
                        ROUNDS);
                System.out.printf(
                        Locale.ROOT,
                        "first (copy-on-write) 1 MiB write pass through the stack: %.2f GB/s%n",
                        firstWriteGbps);
                System.out.printf(Locale.ROOT, "%-22s %12s %12s %8s%n", "case", "raw GB/s", "stack GB/s", "ratio");
                for (boolean random : new boolean[] {false, true}) {
                    for (int io : new int[] {4096, 65536}) {
                        for (boolean write : new boolean[] {false, true}) {
                            Io rawIo = write ? (b, o) -> writeRaw(raw, b, o) : (b, o) -> readRaw(raw, b, o);
                            Io stackIo = write ? stack::write : stack::read;
                            double[] r = new double[ROUNDS];
                            double[] s = new double[ROUNDS];
                            for (int i = 0; i < ROUNDS; i++) {
                                r[i] = measure(rawIo, size, io, random, seconds);
                                s[i] = measure(stackIo, size, io, random, seconds);
                            }
                            double rm = median(r);
                            double sm = median(s);
                            System.out.printf(
                                    Locale.ROOT,
                                    "%-22s %12.2f %12.2f %8.2f%n",
                                    (random ? "random " : "seq ") + (io >> 10) + "KiB " + (write ? "write" : "read"),
                                    rm / 1e9,
                                    sm / 1e9,
                                    sm / rm);
                        }
                    }
                }
                System.out.printf(Locale.ROOT, "dirty blocks marked during the run: %d%n", dirty.markedBlocksTotal());
            }
        }
    }

    static void fill(Path p, long size) throws IOException {
        byte[] chunk = new byte[1 << 20];
        new Random(1).nextBytes(chunk);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (long off = 0; off < size; off += chunk.length) {
                ch.write(ByteBuffer.wrap(chunk), off);
            }
        }
    }

    static void readRaw(FileChannel ch, ByteBuffer b, long off) throws IOException {
        while (b.hasRemaining()) {
            off += ch.read(b, off);
        }
    }

    static void writeRaw(FileChannel ch, ByteBuffer b, long off) throws IOException {
        while (b.hasRemaining()) {
            off += ch.write(b, off);
        }
    }

    static void sweep(Io io, long size, int ioBytes, boolean fill) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(ioBytes);
        for (long off = 0; off + ioBytes <= size; off += ioBytes) {
            buf.clear();
            if (fill) {
                buf.put(0, (byte) off);
            }
            io.run(buf, off);
        }
    }

    /** Bytes per second for {@code seconds} of back-to-back operations of {@code ioBytes}. */
    static double measure(Io io, long size, int ioBytes, boolean random, double seconds) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(ioBytes);
        Random r = new Random(7);
        long slots = size / ioBytes;
        long bytes = 0;
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        long next = 0;
        long now;
        do {
            for (int i = 0; i < 64; i++) {
                long slot = random ? (long) (r.nextDouble() * slots) : next++ % slots;
                buf.clear();
                io.run(buf, slot * ioBytes);
                bytes += ioBytes;
            }
            now = System.nanoTime();
        } while (now < deadline);
        return bytes / ((now - start) / 1e9);
    }

    static double median(double[] xs) {
        double[] c = xs.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }
}
