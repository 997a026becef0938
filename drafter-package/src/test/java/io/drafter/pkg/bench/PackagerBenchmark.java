package io.drafter.pkg.bench;

import io.drafter.pkg.DeviceFile;
import io.drafter.pkg.Packager;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Pack and extract throughput of {@link Packager} against {@code tar -c | zstd} and {@code zstd -d | tar -x}
 * on the same files, in the same run, at the same zstd level, each with one compression thread beside the
 * reader ({@code zstd -T1}, our {@code workers = 1}). Both make their output durable ({@code sync FILE} after the
 * baseline, fsync in the packager), so the comparison includes the same disk flush. Prints MB/s of
 * device bytes and the ratio ours / baseline (higher is better for us).
 *
 * <p>Workload: a sparse VM-like disk ({@code BENCH_DISK_GIB}, default 2 GiB, with {@code BENCH_DATA_MIB},
 * default 256 MiB, of mixed data: random, text-like and zero 4 KiB blocks), a dense memory-like file
 * ({@code BENCH_MEMORY_MIB}, default 128 MiB) and a small state file. Median of {@code BENCH_RUNS} runs (default 5);
 * which side goes first alternates from run to run, and the ratio printed is the median of the per-run ratios.
 */
public final class PackagerBenchmark {
    private static final int LEVEL = 3;

    private PackagerBenchmark() {}

    public static void main(String[] args) throws Exception {
        long diskGiB = Long.getLong("bench.diskGiB", env("BENCH_DISK_GIB", 2));
        long dataMiB = env("BENCH_DATA_MIB", 256);
        long memoryMiB = env("BENCH_MEMORY_MIB", 128);
        int runs = (int) env("BENCH_RUNS", 5);
        Path work = Files.createTempDirectory(args.length > 0 ? Path.of(args[0]) : Path.of("/tmp"), "bench-pkg-");
        try {
            Path src = Files.createDirectories(work.resolve("src"));
            Random r = new Random(42);
            writeMixed(src.resolve("disk"), diskGiB << 30, dataMiB << 20, r);
            writeMixed(src.resolve("memory"), memoryMiB << 20, memoryMiB << 20, r);
            byte[] state = new byte[16384];
            r.nextBytes(state);
            Files.write(src.resolve("state"), state);
            List<String> names = List.of("state", "memory", "disk");
            List<DeviceFile> devices = new ArrayList<>();
            long bytes = 0;
            for (String n : names) {
                devices.add(new DeviceFile(n, src.resolve(n)));
                bytes += Files.size(src.resolve(n));
            }
            System.out.printf(
                    Locale.ROOT,
                    "workload: %s (disk %d GiB sparse with %d MiB data, memory %d MiB, state 16 KiB), zstd level %d, %d runs%n",
                    human(bytes),
                    diskGiB,
                    dataMiB,
                    memoryMiB,
                    LEVEL,
                    runs);
            double[] oursPackCpu = new double[runs];
            double[] basePackCpu = new double[runs];
            double[] oursExtractCpu = new double[runs];
            double[] baseExtractCpu = new double[runs];
            double[] oursPack = new double[runs];
            double[] basePack = new double[runs];
            double[] oursExtract = new double[runs];
            double[] baseExtract = new double[runs];
            Path ours = work.resolve("ours.tar.zst");
            Path base = work.resolve("base.tar.zst");
            String tarNames = String.join(" ", names);
            Path baseOut = Files.createDirectories(work.resolve("base-out"));
            Path oursOut = work.resolve("ours-out");
            List<DeviceFile> targets = new ArrayList<>();
            for (String n : names) {
                targets.add(new DeviceFile(n, oursOut.resolve(n)));
            }
            for (int i = 0; i < runs; i++) {
                int run = i;
                // which side goes first alternates, so neither always meets the colder caches
                inOrder(
                        run,
                        () -> basePack[run] = time(() -> basePackCpu[run] = sh(
                                src,
                                "{ tar -cf - " + tarNames + " || [ $? -eq 1 ]; } | zstd -q -" + LEVEL + " -T1 -f -o "
                                        + base + " && sync " + base)),
                        () -> {
                            Files.deleteIfExists(ours);
                            double cpu0 = processCpu();
                            oursPack[run] = time(() -> Packager.pack(
                                    devices, ours, new Packager.Options(LEVEL, 1, io.drafter.pkg.Progress.NONE)));
                            oursPackCpu[run] = processCpu() - cpu0;
                        });
                inOrder(
                        run,
                        () -> baseExtract[run] = time(() -> baseExtractCpu[run] =
                                sh(baseOut, "zstd -q -d -c " + base + " | tar -xf - && sync " + tarNames)),
                        () -> {
                            double cpu1 = processCpu();
                            oursExtract[run] = time(() -> Packager.extract(ours, targets, Packager.Options.defaults()));
                            oursExtractCpu[run] = processCpu() - cpu1;
                        });
                for (String n : names) {
                    Files.delete(baseOut.resolve(n));
                    Files.delete(oursOut.resolve(n));
                }
                System.out.printf(
                        Locale.ROOT,
                        "run %d (%s first): pack %.2f s vs %.2f s, extract %.2f s vs %.2f s%n",
                        run + 1,
                        run % 2 == 0 ? "tar|zstd" : "ours",
                        oursPack[run],
                        basePack[run],
                        oursExtract[run],
                        baseExtract[run]);
            }
            System.out.printf(
                    Locale.ROOT,
                    "package sizes: ours %s, tar|zstd %s%n",
                    human(Files.size(ours)),
                    human(Files.size(base)));
            report("pack   ", bytes, oursPack, basePack, "tar -c | zstd -" + LEVEL);
            report("extract", bytes, oursExtract, baseExtract, "zstd -d | tar -x");
            System.out.println("load average at the end: " + loadAverage());
            System.out.printf(
                    Locale.ROOT,
                    "cpu seconds (user+sys, median): pack ours %.2f vs %.2f (ratio %.2f), extract ours %.2f vs %.2f (ratio %.2f)%n",
                    median(oursPackCpu),
                    median(basePackCpu),
                    median(basePackCpu) / median(oursPackCpu),
                    median(oursExtractCpu),
                    median(baseExtractCpu),
                    median(baseExtractCpu) / median(oursExtractCpu));
        } finally {
            sh(work.getParent(), "rm -rf " + work);
        }
    }

    private static long env(String name, long fallback) {
        String v = System.getenv(name);
        return v == null || v.isBlank() ? fallback : Long.parseLong(v.trim());
    }

    /** Prints median throughputs and the median of the per-run ratios (with their range). */
    private static void report(String what, long bytes, double[] oursRuns, double[] baseRuns, String baseline) {
        double[] ratios = new double[oursRuns.length];
        for (int i = 0; i < ratios.length; i++) {
            ratios[i] = baseRuns[i] / oursRuns[i];
        }
        double ours = median(oursRuns);
        double base = median(baseRuns);
        System.out.printf(
                Locale.ROOT,
                "%s ours %8.1f MB/s (%.2f s)   %-18s %8.1f MB/s (%.2f s)   ratio %.2f (runs %.2f..%.2f)%n",
                what,
                bytes / 1e6 / ours,
                ours,
                baseline,
                bytes / 1e6 / base,
                base,
                median(ratios),
                Arrays.stream(ratios).min().orElse(0),
                Arrays.stream(ratios).max().orElse(0));
    }

    /** Runs the baseline then ours in even runs, ours then the baseline in odd ones; syncs before each. */
    private static void inOrder(int run, Work baseline, Work ours) throws Exception {
        Work first = run % 2 == 0 ? baseline : ours;
        Work second = run % 2 == 0 ? ours : baseline;
        dropCaches();
        first.run();
        dropCaches();
        second.run();
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** Writes a file of {@code size} bytes with {@code dataBytes} of mixed 4 KiB blocks spread over it (rest holes). */
    private static void writeMixed(Path p, long size, long dataBytes, Random r) throws IOException {
        byte[] text = ("drafter packages devices as tar entries compressed with zstd; "
                        + "the quick brown fox jumps over the lazy dog 0123456789\n")
                .getBytes(StandardCharsets.US_ASCII);
        int extentBytes = 4 << 20;
        long extents = Math.max(1, dataBytes / extentBytes);
        long stride = size / extents;
        byte[] extent = new byte[extentBytes];
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
            for (long e = 0; e < extents; e++) {
                for (int b = 0; b < extentBytes; b += 4096) {
                    int kind = r.nextInt(10);
                    if (kind < 3) {
                        byte[] block = new byte[4096];
                        r.nextBytes(block);
                        System.arraycopy(block, 0, extent, b, 4096);
                    } else if (kind < 8) {
                        int off = r.nextInt(text.length);
                        for (int i = 0; i < 4096; i++) {
                            extent[b + i] = text[(off + i) % text.length];
                        }
                    } else {
                        Arrays.fill(extent, b, b + 4096, (byte) 0);
                    }
                }
                f.seek(Math.min(e * stride, size - extentBytes));
                f.write(extent);
            }
        }
    }

    private interface Work {
        void run() throws Exception;
    }

    private static double time(Work w) throws Exception {
        long t0 = System.nanoTime();
        w.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    private static double median(double[] v) {
        double[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }

    /** Runs {@code command} with bash and returns the user+sys CPU seconds it took (all its processes). */
    private static double sh(Path cwd, String command) throws IOException, InterruptedException {
        Path cpu = Files.createTempFile("bench-cpu", ".txt");
        try {
            Process p = new ProcessBuilder(
                            "bash",
                            "-c",
                            "set -eo pipefail; TIMEFORMAT='%3U %3S'; { time ( " + command + " ) ; } 2> " + cpu)
                    .directory(cwd.toFile())
                    .inheritIO()
                    .start();
            if (p.waitFor() != 0) {
                throw new IOException("baseline failed: " + command);
            }
            String[] t = Files.readString(cpu)
                    .strip()
                    .lines()
                    .reduce((a, b) -> b)
                    .orElse("0 0")
                    .split(" ");
            return Double.parseDouble(t[0]) + Double.parseDouble(t[1]);
        } finally {
            Files.deleteIfExists(cpu);
        }
    }

    private static double processCpu() {
        var os = (com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os.getProcessCpuTime() / 1e9;
    }

    /** Writes dirty pages back so that each timed step starts from the same state; no-op without root. */
    private static void dropCaches() throws IOException, InterruptedException {
        new ProcessBuilder("sync").inheritIO().start().waitFor();
    }

    private static String human(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }
}
