package io.drafter.vm.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.vm.Accel;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.agent.AgentCall;
import io.drafter.vm.agent.AgentException;
import io.drafter.vm.testing.TestGuest;
import io.drafter.vm.testing.VmConfigBuilder;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Bad inputs give one clear error naming what is wrong and leave no QEMU process behind. */
class QemuBadInputTest {
    private final QemuVmm vmm = new QemuVmm();

    @TempDir
    Path tmp;

    private VmConfig withKernel(VmConfig c, Path kernel) {
        return VmConfigBuilder.from(c)
                .kernel(kernel)
                .accel(Accel.TCG)
                .console(io.drafter.vm.Console.LOG)
                .build();
    }

    /**
     * A kernel booted without the initramfs it needs panics ("VFS: Unable to mount root fs"): the boot fails as soon as
     * that shows on the console, quoting it, instead of after the liveness timeout (10 minutes here: the test's own
     * bound would fail first).
     */
    @Test
    @Timeout(120)
    void aGuestThatPanicsIsReportedAtOnceWithItsConsole() throws Exception {
        VmConfig base = TestGuest.config(tmp, 128, false, "");
        VmConfig noInitrd = VmConfigBuilder.from(base)
                .initrd(null)
                .accel(Accel.TCG)
                .console(io.drafter.vm.Console.LOG)
                .build();
        try (var vm = vmm.boot(noInitrd)) {
            VmException e = assertThrows(VmException.class, () -> vm.awaitReady(java.time.Duration.ofMinutes(10)));
            assertTrue(e.getMessage().contains("Kernel panic") || e.getMessage().contains("panicked"), e.getMessage());
        }
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
    }

    @Test
    @Timeout(60)
    void missingKernelIsNamed() throws Exception {
        VmConfig c = withKernel(TestGuest.config(tmp, 128, false, ""), tmp.resolve("no-such-vmlinux"));
        VmException e = assertThrows(VmException.class, () -> vmm.boot(c));
        assertTrue(
                e.getMessage().startsWith("could not boot: kernel ")
                        && e.getMessage().contains("no-such-vmlinux"),
                e.getMessage());
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
    }

    @Test
    @Timeout(60)
    void corruptKernelIsReportedWithQemusReason() throws Exception {
        Path bad = tmp.resolve("vmlinux");
        byte[] junk = new byte[4 * 1024 * 1024];
        new Random(42).nextBytes(junk);
        Files.write(bad, junk);
        VmConfig c = withKernel(TestGuest.config(tmp, 128, false, ""), bad);
        VmException e = assertThrows(VmException.class, () -> vmm.boot(c));
        assertTrue(e.getMessage().startsWith("could not start QEMU for boot"), e.getMessage());
        assertTrue(e.getMessage().contains("[qemu:"), "QEMU's own reason is included: " + e.getMessage());
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
    }

    @Test
    @Timeout(60)
    void truncatedMemoryFileIsRefusedBeforeStartingQemu() throws Exception {
        VmConfig c = withKernel(
                TestGuest.config(tmp, 128, false, ""), TestGuest.blueprint().resolve("vmlinux"));
        try (RandomAccessFile f = new RandomAccessFile(c.memoryFile().toFile(), "rw")) {
            f.setLength(64L * 1024 * 1024);
        }
        Path state = tmp.resolve("state.bin");
        Files.write(state, new byte[] {'Q', 'E', 'V', 'M', 0, 0, 0, 3});
        VmException e = assertThrows(VmException.class, () -> vmm.resume(c, state));
        assertTrue(e.getMessage().contains("memory file") && e.getMessage().contains("truncated"), e.getMessage());
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
    }

    @Test
    @Timeout(60)
    void stateFileThatIsNotQemuStateIsRefused() throws Exception {
        VmConfig c = withKernel(
                TestGuest.config(tmp, 128, false, ""), TestGuest.blueprint().resolve("vmlinux"));
        try (RandomAccessFile f = new RandomAccessFile(c.memoryFile().toFile(), "rw")) {
            f.setLength(128L * 1024 * 1024);
        }
        Path state = tmp.resolve("state.bin");
        Files.writeString(state, "{\"not\":\"a state\"}");
        VmException e = assertThrows(VmException.class, () -> vmm.resume(c, state));
        assertTrue(e.getMessage().contains("not a QEMU state stream"), e.getMessage());
        VmException missing = assertThrows(VmException.class, () -> vmm.resume(c, tmp.resolve("nope.bin")));
        assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
    }

    @Test
    @Timeout(120)
    void agentThatNeverAnswersTimesOutByName() throws Exception {
        VmConfig c = TestGuest.config(tmp, 128, false, "drafter.noagent");
        VmInstance vm = vmm.boot(c);
        try {
            AgentException e = assertThrows(
                    AgentException.class,
                    () -> ((QemuInstance) vm).agentCall(new AgentCall.BeforeSuspend(), Duration.ofSeconds(2)));
            assertEquals(AgentException.Kind.TIMEOUT, e.kind());
            assertTrue(
                    e.getMessage().contains("BeforeSuspend") && e.getMessage().contains("did not answer"),
                    e.getMessage());
            VmException ready = assertThrows(VmException.class, () -> vm.awaitReady(Duration.ofSeconds(1)));
            assertTrue(ready.getMessage().contains("liveness"), ready.getMessage());
            VmException snap =
                    assertThrows(VmException.class, () -> vm.snapshot(tmp.resolve("state.bin"), Duration.ofSeconds(1)));
            assertTrue(snap.getMessage().contains("BeforeSuspend"), snap.getMessage());
        } finally {
            vm.close();
        }
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
        assertTrue(Files.notExists(tmp.resolve("state.bin")), "no state written when the agent failed");
    }
}
