package io.drafter.vm.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.vm.Accel;
import io.drafter.vm.Console;
import io.drafter.vm.Drive;
import io.drafter.vm.Network;
import io.drafter.vm.VmConfig;
import io.drafter.vm.snapshot.SnapshotDevice;
import io.drafter.vm.snapshot.Snapshotter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The DrafterOS blueprint for tests: built (or found up to date) by {@code scripts/build-guest.sh
 * <repo>/out/blueprint}; tests skip with the reason when QEMU or the build is unavailable.
 */
public final class TestGuest {
    private static Path built;
    private static String failure;

    private TestGuest() {}

    /** The repository root (the parent of this module). */
    public static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("scripts/build-guest.sh"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException(
                    "could not find scripts/build-guest.sh above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    /** Skips the calling test unless qemu-system-x86_64 runs. */
    public static void assumeQemu() {
        boolean ok;
        try {
            Process p = new ProcessBuilder("qemu-system-x86_64", "--version")
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            ok = p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            ok = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            ok = false;
        }
        assumeTrue(ok, "qemu-system-x86_64 is not installed (scripts/install-deps.sh installs it)");
    }

    /** The blueprint directory (vmlinux, initramfs.img, rootfs.ext4, oci-counter.ext4); skips when it cannot be built. */
    public static synchronized Path blueprint() {
        assumeQemu();
        if (built == null && failure == null) {
            Path out = repoRoot().resolve("out/blueprint");
            try {
                Process p = new ProcessBuilder(
                                "bash",
                                repoRoot().resolve("scripts/build-guest.sh").toString(),
                                out.toString())
                        .redirectErrorStream(true)
                        .start();
                String log = new String(p.getInputStream().readAllBytes());
                if (p.waitFor(300, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    built = out;
                } else {
                    failure = log.strip().lines().reduce((a, b) -> b).orElse("no output");
                }
            } catch (IOException e) {
                failure = e.toString();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = "interrupted";
            }
        }
        assumeTrue(built != null, "guest blueprint could not be built: " + failure);
        return built;
    }

    /** Copies the blueprint's writable disks into {@code dir} and returns a 128 MiB-style config for them. */
    public static VmConfig config(Path dir, int memoryMiB, boolean withOci, String extraArgs) throws IOException {
        Path bp = blueprint();
        Path disk = dir.resolve("rootfs.ext4");
        Files.copy(bp.resolve("rootfs.ext4"), disk);
        List<Drive> drives = new java.util.ArrayList<>(List.of(new Drive("disk", disk, false)));
        if (withOci) {
            Path oci = dir.resolve("oci.ext4");
            Files.copy(bp.resolve("oci-counter.ext4"), oci);
            drives.add(new Drive("oci", oci, false));
        }
        return VmConfigBuilder.vmConfig()
                .kernel(bp.resolve("vmlinux"))
                .initrd(bp.resolve("initramfs.img"))
                .drives(drives)
                .memoryFile(dir.resolve("memory.bin"))
                .memorySizeMiB(memoryMiB)
                .bootArgs(VmConfig.DEFAULT_BOOT_ARGS + (extraArgs.isEmpty() ? "" : " " + extraArgs))
                .runDir(dir.resolve("run"))
                .consoleLog(dir.resolve("console.log"))
                .build();
    }

    /**
     * How the tests snapshot the test guest: 128 MiB, one vCPU, Drafter's boot arguments, the accelerator probed, no
     * network, the console to its log, CPU template "None", outputs padded as Drafter pads them.
     */
    public static Snapshotter.Options snapshotOptions(
            List<SnapshotDevice> devices, Path workBase, Duration resumeTimeout) {
        return new Snapshotter.Options(
                devices,
                workBase,
                128,
                1,
                VmConfig.DEFAULT_BOOT_ARGS,
                Accel.AUTO,
                /* network */ null,
                resumeTimeout,
                Console.LOG,
                "None",
                /* pad */ true);
    }

    /** {@code base} with other drives, memory size and network (null for none); everything else kept. */
    public static VmConfig with(VmConfig base, List<Drive> drives, int memoryMiB, Network network) {
        return VmConfigBuilder.from(base)
                .drives(drives)
                .memorySizeMiB(memoryMiB)
                .network(network)
                .build();
    }

    /**
     * The confinement fields of {@code /proc/<pid>/status}: {@code Uid}, {@code Gid}, {@code Groups}, {@code CapEff},
     * {@code NoNewPrivs}, {@code Seccomp}, with their values (tabs as single spaces), e.g. {@code Uid=65534 65534
     * 65534 65534}.
     */
    public static java.util.Map<String, String> confinement(long pid) throws IOException {
        java.util.Map<String, String> m = new java.util.TreeMap<>();
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            int colon = line.indexOf(':');
            String key = colon < 0 ? "" : line.substring(0, colon);
            if (List.of("Uid", "Gid", "Groups", "CapEff", "NoNewPrivs", "Seccomp")
                    .contains(key)) {
                m.put(key, line.substring(colon + 1).strip().replaceAll("\\s+", " "));
            }
        }
        return m;
    }

    /** PIDs of live qemu-system-x86_64 processes whose command line mentions {@code dir}. */
    public static List<Long> qemuUnder(Path dir) {
        String d = dir.toString();
        return ProcessHandle.allProcesses()
                .filter(ph -> ph.info().command().orElse("").endsWith("qemu-system-x86_64"))
                .filter(ph -> String.join(" ", ph.info().arguments().orElse(new String[0]))
                        .contains(d))
                .map(ProcessHandle::pid)
                .toList();
    }
}
