package io.drafter.expose.bench;

import io.drafter.expose.fuse.DeviceMount;
import io.drafter.expose.fuse.FuseOptions;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.source.FileBlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Sequential reads and writes (64 KiB and 1 MiB) and mmap fault-in / dirtying of one device file, through a
 * {@link DeviceMount} and on the backing file directly, in the same run; prints GB/s and the ratio mount/direct.
 *
 * <p>The device is a {@link FileBlockDevice} over a file in {@code --dir} (default {@code /dev/shm}, so the baseline
 * is the page cache and the ratio shows what FUSE costs). Each measurement through the mount uses a fresh mount, so
 * its page cache is cold while the backing file's stays warm. mmap work runs in a python3 process: a JVM must not
 * fault on a mapping that its own threads serve.
 *
 * <p>Usage: {@code FuseBenchmark [--size-mib N] [--reps N] [--dir D] [--source file|memory] [--configs
 * default,pagecache,writeback,directio,ra128,pages32,t1,t2,bdi-strict,bdi-loose,bdi-kernel] [--ops
 * read64K,read1M,write64K,write1M,mmap-read,mmap-write]}. {@code --source memory} serves a {@link MemoryBlockDevice}
 * copy of the backing file instead of the file itself.
 */
public final class FuseBenchmark {
    private static final int MIB = 1 << 20;

    private static final String MMAP_READ = """
            import mmap,os,sys,time
            fd=os.open(sys.argv[1],os.O_RDONLY)
            m=mmap.mmap(fd,0,mmap.MAP_SHARED,mmap.PROT_READ)
            t=time.perf_counter(); s=0
            for i in range(0,len(m),4096): s+=m[i]
            print(time.perf_counter()-t)
            """;
    private static final String MMAP_WRITE = """
            import mmap,os,sys,time
            fd=os.open(sys.argv[1],os.O_RDWR)
            m=mmap.mmap(fd,0,mmap.MAP_SHARED,mmap.PROT_READ|mmap.PROT_WRITE)
            for i in range(0,len(m),4096): m[i]
            t=time.perf_counter()
            for i in range(0,len(m),4096): m[i]=(i>>12)&255
            m.flush()
            print(time.perf_counter()-t)
            """;

    private FuseBenchmark() {}

    public static void main(String[] args) throws Exception {
        long sizeMib = 1024;
        int reps = 3;
        Path dir = Path.of("/dev/shm");
        List<String> configs = List.of("default", "pagecache", "writeback", "bdi-kernel", "ra128", "pages32");
        List<String> ops = List.of("read64K", "read1M", "write64K", "write1M", "mmap-read", "mmap-write");
        boolean memory = false;
        for (int i = 0; i < args.length; i += 2) {
            switch (args[i]) {
                case "--size-mib" -> sizeMib = Long.parseLong(args[i + 1]);
                case "--reps" -> reps = Integer.parseInt(args[i + 1]);
                case "--dir" -> dir = Path.of(args[i + 1]);
                case "--configs" -> configs = Arrays.asList(args[i + 1].split(","));
                case "--ops" -> ops = Arrays.asList(args[i + 1].split(","));
                case "--source" -> memory = args[i + 1].equals("memory");
                default -> {
                    System.err.println("FuseBenchmark: could not parse arguments: unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        long size = sizeMib * MIB;
        Path work = Files.createTempDirectory(dir, "fuse-bench");
        Path backing = work.resolve("backing.img");
        Path mnt = Files.createTempDirectory("fuse-bench-mnt");
        try {
            fill(backing, size);
            Map<String, double[]> results = new LinkedHashMap<>();
            results.put("direct", new double[ops.size()]);
            Map<String, FuseOptions> options = new LinkedHashMap<>();
            for (String config : configs) {
                options.put(config, options(config));
                results.put(config, new double[ops.size()]);
            }
            try (BlockDevice device =
                    memory ? copyToMemory(backing, size) : FileBlockDevice.open(backing, 4096, true)) {
                // Warm-up: JIT the serving and reading paths once before anything is timed.
                for (int i = 0; i < 2; i++) {
                    try (DeviceMount m = DeviceMount.mount(mnt, Map.of("disk", device), FuseOptions.defaults())) {
                        read(m.file("disk"), size, MIB);
                        write(m.file("disk"), Math.min(size, 256L * MIB), 64 * 1024);
                    }
                }
                // Baseline and every config interleaved per repetition, so that load from other processes hits
                // them alike. A fresh mount per sample starts with a cold page cache.
                for (int op = 0; op < ops.size(); op++) {
                    Map<String, List<Double>> samples = new LinkedHashMap<>();
                    for (int r = 0; r < reps; r++) {
                        samples.computeIfAbsent("direct", k -> new ArrayList<>())
                                .add(run(ops.get(op), backing, size));
                        for (var e : options.entrySet()) {
                            double v;
                            try (DeviceMount m = DeviceMount.mount(mnt, Map.of("disk", device), e.getValue())) {
                                v = run(ops.get(op), m.file("disk"), size);
                            } catch (IOException ex) {
                                System.err.println(e.getKey() + " " + ops.get(op) + ": "
                                        + ex.getMessage().lines().toList().getLast());
                                v = Double.NaN;
                            }
                            samples.computeIfAbsent(e.getKey(), k -> new ArrayList<>())
                                    .add(v);
                        }
                    }
                    for (var e : samples.entrySet()) {
                        List<Double> v = e.getValue();
                        v.sort(null);
                        results.get(e.getKey())[op] = v.get(v.size() / 2);
                    }
                }
            }
            print(ops, results, sizeMib);
        } finally {
            Files.deleteIfExists(backing);
            Files.deleteIfExists(work);
            Files.deleteIfExists(mnt);
        }
    }

    private static FuseOptions options(String config) {
        FuseOptions d = FuseOptions.defaults();
        return switch (config) {
            case "default" -> d;
            case "pagecache" -> d.withDirectIo(false);
            case "writeback" -> d.withDirectIo(false).withWritebackCache(true);
            case "directio" -> d.withDirectIo(true);
            case "ra128" -> d.withReadAheadKb(128);
            case "t1" -> d.withThreads(1, 64);
            case "t2" -> d.withThreads(2, 64);
            case "pages32" -> d.withMaxPages(32);
            case "bdi-strict" -> d.withBdiLimits(1, 1);
            case "bdi-loose" -> d.withBdiLimits(100, 0);
            case "bdi-kernel" -> d.withBdiLimits(-1, -1);
            default -> throw new IllegalArgumentException("FuseBenchmark: unknown config " + config);
        };
    }

    /** One operation over the whole file; returns GB/s. */
    private static double run(String op, Path file, long size) throws Exception {
        return switch (op) {
            case "read64K" -> read(file, size, 64 * 1024);
            case "read1M" -> read(file, size, MIB);
            case "write64K" -> write(file, size, 64 * 1024);
            case "write1M" -> write(file, size, MIB);
            case "mmap-read" -> size / python(MMAP_READ, file) / 1e9;
            case "mmap-write" -> size / python(MMAP_WRITE, file) / 1e9;
            default -> throw new IllegalArgumentException(op);
        };
    }

    private static double read(Path file, long size, int chunk) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(chunk);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long t = System.nanoTime();
            long total = 0;
            while (total < size) {
                buf.clear();
                int n = ch.read(buf, total);
                if (n <= 0) {
                    break;
                }
                total += n;
            }
            return total / ((System.nanoTime() - t) / 1e9) / 1e9;
        }
    }

    private static double write(Path file, long size, int chunk) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(chunk);
        byte[] random = new byte[chunk];
        new Random(chunk).nextBytes(random);
        buf.put(random);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            long t = System.nanoTime();
            for (long off = 0; off < size; off += chunk) {
                buf.clear();
                while (buf.hasRemaining()) {
                    ch.write(buf, off + buf.position());
                }
            }
            return size / ((System.nanoTime() - t) / 1e9) / 1e9;
        }
    }

    private static double python(String program, Path file) throws Exception {
        Process p = new ProcessBuilder("python3", "-c", program, file.toString())
                .redirectErrorStream(true)
                .start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new IOException("python3 mmap run timed out on " + file);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (p.exitValue() != 0) {
            throw new IOException("python3 mmap run failed on " + file + ": " + out);
        }
        return Double.parseDouble(out);
    }

    private static BlockDevice copyToMemory(Path backing, long size) throws IOException {
        MemoryBlockDevice m = new MemoryBlockDevice("bench", size, 4096);
        try (FileBlockDevice f = FileBlockDevice.open(backing, 4096, false)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(MIB);
            for (long off = 0; off < size; off += MIB) {
                buf.clear();
                f.read(buf, off);
                buf.flip();
                m.write(buf, off);
            }
        }
        return m;
    }

    private static void fill(Path file, long size) throws IOException {
        byte[] chunk = new byte[MIB];
        Random r = new Random(42);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long off = 0; off < size; off += MIB) {
                r.nextBytes(chunk);
                ch.write(ByteBuffer.wrap(chunk), off);
            }
        }
    }

    private static void print(List<String> ops, Map<String, double[]> results, long sizeMib) {
        System.out.printf("FUSE benchmark: %d MiB device file, GB/s (median), ratio = mount / direct%n", sizeMib);
        StringBuilder head = new StringBuilder(String.format("%-18s", "op"));
        for (String c : results.keySet()) {
            head.append(String.format("%20s", c));
        }
        System.out.println(head);
        double[] base = results.get("direct");
        for (int i = 0; i < ops.size(); i++) {
            StringBuilder row = new StringBuilder(String.format("%-18s", ops.get(i)));
            for (var e : results.entrySet()) {
                double v = e.getValue()[i];
                row.append(
                        e.getKey().equals("direct")
                                ? String.format("%20.2f", v)
                                : String.format("%13.2f (%.2fx)", v, v / base[i]));
            }
            System.out.println(row);
        }
    }
}
