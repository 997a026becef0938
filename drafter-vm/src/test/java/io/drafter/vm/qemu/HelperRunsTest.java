package io.drafter.vm.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.vm.Accel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The short helper runs of this package ({@code --version}, the KVM probe) with stand-in programs: no QEMU, no KVM. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class HelperRunsTest {
    @TempDir
    Path dir;

    @Test
    void versionIsTheFirstLineOrEmptyWhenTheBinaryIsMissing() throws Exception {
        Path fake = dir.resolve("fake-qemu");
        Files.writeString(fake, "#!/bin/sh\necho 'QEMU emulator version 9.9.9'\necho 'Copyright'\n");
        assertTrue(fake.toFile().setExecutable(true));
        Duration t = Duration.ofSeconds(5);
        assertEquals("QEMU emulator version 9.9.9", new QemuVmm(fake.toString(), t, t).version());
        assertEquals("", new QemuVmm(dir.resolve("missing").toString(), t, t).version());
    }

    @Test
    void aProbeThatCannotRunOrFailsFallsBackToTcgAndSaysWhy() throws Exception {
        Path kernel = Files.writeString(dir.resolve("vmlinux"), "not a kernel");
        AcceleratorProbe.Decision missing =
                AcceleratorProbe.probe(dir.resolve("missing").toString(), kernel, null);
        assertEquals(Accel.TCG, missing.accel());
        // started through setpriv/setsid (tied to this JVM): the wrapper reports the missing program
        assertTrue(missing.reason().contains("missing"), missing.reason());

        Path failing = dir.resolve("failing-qemu");
        Files.writeString(failing, "#!/bin/sh\necho 'qemu: no kvm here' >&2\nexit 1\n");
        assertTrue(failing.toFile().setExecutable(true));
        AcceleratorProbe.Decision failed = AcceleratorProbe.probe(failing.toString(), kernel, null);
        assertEquals(Accel.TCG, failed.accel());
        assertEquals("probe guest failed under KVM (exit 1): qemu: no kvm here", failed.reason());
    }
}
