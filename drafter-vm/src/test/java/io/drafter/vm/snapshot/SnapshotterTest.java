package io.drafter.vm.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import io.drafter.vm.Console;
import io.drafter.vm.SnapshotConfig;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmInstance;
import io.drafter.vm.qemu.QemuVmm;
import io.drafter.vm.testing.TestGuest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Drafter's snapshotter flow end to end: blueprint → padded package → resume from the package. */
@Tag("slow")
class SnapshotterTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(240)
    void packageResumesWhereTheSnapshotStopped() throws Exception {
        Path bp = TestGuest.blueprint();
        Path pkg = tmp.resolve("package");
        List<SnapshotDevice> devices = List.of(
                new SnapshotDevice("state", null, pkg.resolve("state.bin")),
                new SnapshotDevice("memory", null, pkg.resolve("memory.bin")),
                new SnapshotDevice("kernel", bp.resolve("vmlinux"), pkg.resolve("vmlinux")),
                new SnapshotDevice("disk", bp.resolve("rootfs.ext4"), pkg.resolve("rootfs.ext4")),
                new SnapshotDevice("config", null, pkg.resolve("config.json")),
                new SnapshotDevice("oci", bp.resolve("oci-counter.ext4"), pkg.resolve("oci.ext4")));
        QemuVmm vmm = new QemuVmm();
        var result = new Snapshotter(vmm)
                .run(TestGuest.snapshotOptions(devices, tmp.resolve("vms"), Duration.ofSeconds(90)));
        assertEquals(0, Files.size(pkg.resolve("memory.bin")) % (1024 * 1024));
        for (Path out : result.outputs().values()) {
            assertEquals(
                    "rw-------",
                    java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(out)),
                    out + " is private");
        }
        // The walkthrough's devices have no initrd: the kernel image carries it, and no initramfs.img is written.
        assertTrue(!Files.exists(pkg.resolve("initramfs.img")), "the kernel carries the initramfs");
        Path initrd = io.drafter.vm.KernelImage.extractInitrd(pkg.resolve("vmlinux"), tmp.resolve("initrd.img"))
                .orElseThrow();
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
        try (var vms = Files.list(tmp.resolve("vms/qemu"))) {
            assertEquals(0, vms.count(), "work directory removed");
        }

        SnapshotConfig sc = SnapshotConfig.read(pkg.resolve("config.json"));
        assertEquals(List.of("disk", "oci"), sc.drives());
        assertEquals(result.accel().qemuName(), sc.accel());
        VmConfig c = sc.toVmConfig(
                pkg.resolve("vmlinux"),
                initrd,
                Map.of("disk", pkg.resolve("rootfs.ext4"), "oci", pkg.resolve("oci.ext4")),
                pkg.resolve("memory.bin"),
                null,
                tmp.resolve("run"),
                Console.LOG);
        try (VmInstance vm = vmm.resume(c, pkg.resolve("state.bin"))) {
            String console = Await.value(
                    Duration.ofSeconds(60),
                    "a counter line on the resumed guest's console",
                    () -> {
                        String text = Files.readString(c.consoleLog(), StandardCharsets.ISO_8859_1);
                        return text.contains("counter") ? text : null;
                    },
                    () -> Files.readString(c.consoleLog(), StandardCharsets.ISO_8859_1));
            Matcher m = Pattern.compile("^counter (\\d+)$", Pattern.MULTILINE).matcher(console);
            assertTrue(m.find(), console);
            assertTrue(Integer.parseInt(m.group(1)) > 1, "continued, not restarted: " + console);
            assertTrue(console.contains("drafter-hook: after-resume"), console);
            assertTrue(vm.isAlive());
        }
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
    }
}
