package io.drafter.vm.bench;

import io.drafter.base.testing.Await;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmInstance;
import io.drafter.vm.qemu.QemuInstance;
import io.drafter.vm.qemu.QemuVmm;
import io.drafter.vm.qmp.QmpCommand;
import io.drafter.vm.testing.TestGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * Boot-to-ready, snapshot and resume-to-AfterResume medians for 128 and 512 MiB guests, with two
 * baselines measured in the same run: a cold boot (what a resume saves) and QEMU's classic snapshot
 * with RAM inside the state stream (what {@code x-ignore-shared} saves).
 *
 * <p>Usage: {@code scripts/bench-vm.sh [runs]} (guest in {@code out/blueprint}, built if needed). Every resumed guest is checked: the
 * counter workload continues and the console has no {@code BUG:}.
 */
public final class VmBenchmark {
    private VmBenchmark() {}

    record Sample(
            double bootMs,
            double snapshotMs,
            double pauseToSavedMs,
            long stateBytes,
            double fullSaveMs,
            long fullStateBytes,
            double runningMs,
            double resumeMs) {}

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        Path bp = TestGuest.blueprint();
        QemuVmm vmm = new QemuVmm("qemu-system-x86_64", Duration.ofSeconds(20), Duration.ofSeconds(120));
        System.out.println("# " + vmm.version() + ", blueprint " + bp + ", " + runs + " runs per size, load "
                + Files.readString(Path.of("/proc/loadavg")).strip());
        System.out.printf(
                "%-6s %-7s %10s %9s %11s %11s %10s %11s %9s %12s%n",
                "MiB",
                "run",
                "boot→ready",
                "snapshot",
                "pause→saved",
                "state B",
                "full save",
                "full B",
                "→running",
                "→AfterResume");
        for (int mib : new int[] {128, 512}) {
            List<Sample> samples = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                Path dir = Files.createTempDirectory("drafter-bench");
                try {
                    Sample s = once(vmm, dir, mib);
                    samples.add(s);
                    row(mib, "run" + i, s);
                } finally {
                    deleteTree(dir);
                }
            }
            Sample m = median(samples);
            row(mib, "median", m);
            System.out.printf(
                    "%d MiB: resume to AfterResume is %.1fx faster than a cold boot to ready (to running: %.0fx);"
                            + " x-ignore-shared state is %.0fx smaller and saves %.1fx faster than the classic"
                            + " RAM-in-stream snapshot%n",
                    mib,
                    m.bootMs() / m.resumeMs(),
                    m.bootMs() / m.runningMs(),
                    (double) m.fullStateBytes() / m.stateBytes(),
                    m.fullSaveMs() / m.pauseToSavedMs());
        }
    }

    private static void row(int mib, String label, Sample s) {
        System.out.printf(
                "%-6d %-7s %10.0f %9.0f %11.0f %11d %10.0f %11d %9.0f %12.0f%n",
                mib,
                label,
                s.bootMs(),
                s.snapshotMs(),
                s.pauseToSavedMs(),
                s.stateBytes(),
                s.fullSaveMs(),
                s.fullStateBytes(),
                s.runningMs(),
                s.resumeMs());
    }

    private static Sample once(QemuVmm vmm, Path dir, int mib) throws Exception {
        VmConfig c = TestGuest.config(dir, mib, true, "");
        Path state = dir.resolve("state.bin");
        Path full = dir.resolve("full-state.bin");
        long t0 = System.nanoTime();
        VmConfig effective;
        VmInstance.SnapshotResult snap;
        double bootMs;
        double snapMs;
        double fullMs;
        try (VmInstance vm = vmm.boot(c)) {
            vm.awaitReady(Duration.ofSeconds(120));
            bootMs = (System.nanoTime() - t0) / 1e6;
            effective = vm.config();
            Thread.sleep(500); // the guest settles after boot before the measurements
            // Baseline first: QEMU's classic snapshot with RAM inside the stream, then continue the VM.
            QemuInstance q = (QemuInstance) vm;
            q.pause();
            q.qmp()
                    .execute(
                            new QmpCommand.MigrateSetCapabilities(Map.of("x-ignore-shared", false)),
                            Duration.ofSeconds(10));
            long f0 = System.nanoTime();
            q.qmp().execute(new QmpCommand.Migrate("file:" + full), Duration.ofSeconds(10));
            while (!q.qmp()
                    .execute(new QmpCommand.QueryMigrate(), Duration.ofSeconds(10))
                    .path("status")
                    .asText()
                    .equals("completed")) {
                Thread.sleep(2); // the measurement: QEMU's status, polled alike every run
            }
            fullMs = (System.nanoTime() - f0) / 1e6;
            q.cont();
            Thread.sleep(300); // the guest runs again before our snapshot is measured
            long s0 = System.nanoTime();
            snap = vm.snapshot(state, Duration.ofSeconds(60));
            snapMs = (System.nanoTime() - s0) / 1e6;
        }
        int before =
                lastCounter(Files.readString(effective.consoleLog(), java.nio.charset.StandardCharsets.ISO_8859_1));
        Files.delete(effective.consoleLog());
        long r0 = System.nanoTime();
        try (VmInstance vm = vmm.resume(effective, state)) {
            double resumeMs = (System.nanoTime() - r0) / 1e6;
            var t = ((QemuInstance) vm).resumeTimings();
            System.out.printf(
                    "       resume breakdown: QEMU up %d ms, state loaded %d ms, running %d ms, AfterResume %d ms%n",
                    t.started().toMillis(),
                    t.stateLoaded().toMillis(),
                    t.running().toMillis(),
                    t.afterResume().toMillis());
            Path log = effective.consoleLog();
            String console = Await.value(
                    Duration.ofSeconds(30),
                    "the resumed guest's counter to pass " + before,
                    () -> {
                        String text = Files.readString(log, java.nio.charset.StandardCharsets.ISO_8859_1);
                        return lastCounter(text) > before ? text : null;
                    },
                    () -> "resumed guest unhealthy:\n"
                            + Files.readString(log, java.nio.charset.StandardCharsets.ISO_8859_1));
            if (console.contains("BUG:")) {
                throw new IllegalStateException("resumed guest unhealthy (counter before " + before + "):\n" + console);
            }
            return new Sample(
                    bootMs,
                    snapMs,
                    snap.pauseToSaved().toNanos() / 1e6,
                    snap.stateBytes(),
                    fullMs,
                    Files.size(full),
                    t.running().toNanos() / 1e6,
                    resumeMs);
        }
    }

    private static int lastCounter(String console) {
        var m = java.util.regex.Pattern.compile("^counter (\\d+)$", java.util.regex.Pattern.MULTILINE)
                .matcher(console);
        int last = -1;
        while (m.find()) {
            last = Math.max(last, Integer.parseInt(m.group(1)));
        }
        return last;
    }

    private static Sample median(List<Sample> s) {
        return new Sample(
                med(s, Sample::bootMs),
                med(s, Sample::snapshotMs),
                med(s, Sample::pauseToSavedMs),
                (long) med(s, x -> (double) x.stateBytes()),
                med(s, Sample::fullSaveMs),
                (long) med(s, x -> (double) x.fullStateBytes()),
                med(s, Sample::runningMs),
                med(s, Sample::resumeMs));
    }

    private static double med(List<Sample> s, java.util.function.ToDoubleFunction<Sample> f) {
        double[] v = s.stream().mapToDouble(f).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static void deleteTree(Path dir) throws java.io.IOException {
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
