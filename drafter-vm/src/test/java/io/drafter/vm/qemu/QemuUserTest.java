package io.drafter.vm.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.vm.Drive;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.VmmFiles;
import io.drafter.vm.VmmUser;
import io.drafter.vm.testing.TestGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * QEMU dropped to an unprivileged user ({@code --uid}/{@code --gid}): it boots, snapshots and resumes as that user in
 * its sandbox, and files it could not open are refused before it starts.
 */
class QemuUserTest {
    private static final VmmUser NOBODY = new VmmUser(65534, 65534);

    private final QemuVmm vmm = new QemuVmm().runningAs(NOBODY);

    @TempDir
    Path tmp;

    @BeforeEach
    void needsRoot() throws Exception {
        int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        assumeTrue(uid == 0, "needs root to start QEMU as another user (running as uid " + uid + ")");
        // JUnit's temp directory is 0700: QEMU's user must reach the files it is given in there.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @Test
    @Timeout(60)
    void filesTheUserCannotOpenAreRefusedBeforeQemuStarts() throws Exception {
        VmConfig c = TestGuest.config(tmp, 128, false, "");
        // The copied disk is root's, mode 0644: QEMU could not reopen it for writing as nobody.
        VmException disk = assertThrows(VmException.class, () -> vmm.boot(c));
        assertEquals(
                "could not boot with QEMU as 65534:65534: drive disk "
                        + c.drives().getFirst().path()
                        + ": it cannot read and write "
                        + c.drives().getFirst().path().toRealPath()
                        + " (mode 0644, owner 0:0)",
                disk.getMessage());

        VmmFiles.giveTo(c.drives().getFirst().path(), NOBODY);
        Path hidden = Files.createDirectories(tmp.resolve("hidden"));
        Files.setPosixFilePermissions(hidden, PosixFilePermissions.fromString("rwx------"));
        Path state = Files.write(hidden.resolve("state.bin"), new byte[] {'Q', 'E', 'V', 'M', 0, 0, 0, 3});
        try (var memory = new java.io.RandomAccessFile(c.memoryFile().toFile(), "rw")) {
            memory.setLength(128L << 20);
        }
        VmException resume = assertThrows(
                VmException.class, () -> vmm.prepare(c.resolved(io.drafter.vm.Accel.TCG, c.bootArgs()), state));
        assertEquals(
                "could not resume with QEMU as 65534:65534: state file " + state + ": it cannot search directory "
                        + hidden.toRealPath() + " (mode 0700, owner 0:0)",
                resume.getMessage());
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
    }

    @Test
    @Timeout(240)
    void bootsSnapshotsAndResumesAsTheUserInItsSandbox() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("host-a"));
        VmConfig cfg = TestGuest.config(src, 128, true, "");
        for (Drive d : cfg.drives()) {
            VmmFiles.giveTo(d.path(), NOBODY);
        }
        Path state = src.resolve("state.bin");
        VmConfig effective;
        int before;
        try (VmInstance vm = vmm.boot(cfg)) {
            vm.awaitReady(Duration.ofSeconds(90));
            assertDropped(vm.pid());
            effective = vm.config();
            QemuVmmTest.awaitCounter(effective, 3, Duration.ofSeconds(30));
            vm.snapshot(state, Duration.ofSeconds(30));
            before = QemuVmmTest.lastCounter(QemuVmmTest.console(effective));
        }
        assertEquals(65534, Files.getAttribute(state, "unix:uid"), "QEMU wrote its state into a file of its own");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(effective.consoleLog())));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(effective.memoryFile())));
        assertEquals("rwx--x---", PosixFilePermissions.toString(Files.getPosixFilePermissions(effective.runDir())));

        try (VmInstance vm = vmm.resume(effective, state)) {
            assertDropped(vm.pid());
            QemuVmmTest.awaitCounter(effective, before + 2, Duration.ofSeconds(60));
            String c = QemuVmmTest.console(effective);
            assertTrue(c.contains("drafter-agent: AfterResume"), c);
            assertFalse(c.contains("BUG:"), c);
        }
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
    }

    /** QEMU runs as nobody, with no capability, no way to gain one, in its seccomp sandbox. */
    private static void assertDropped(long pid) throws Exception {
        Map<String, String> status = TestGuest.confinement(pid);
        assertEquals("65534 65534 65534 65534", status.get("Uid"), status.toString());
        assertEquals("65534 65534 65534 65534", status.get("Gid"), status.toString());
        assertEquals("65534", status.get("Groups"), status.toString());
        assertEquals("0000000000000000", status.get("CapEff"), status.toString());
        assertEquals("1", status.get("NoNewPrivs"), status.toString());
        assertEquals("2", status.get("Seccomp"), status.toString());
    }
}
