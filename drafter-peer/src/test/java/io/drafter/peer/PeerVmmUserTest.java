package io.drafter.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.vm.VmmUser;
import io.drafter.vm.qemu.QemuVmm;
import io.drafter.vm.snapshot.SnapshotDevice;
import io.drafter.vm.snapshot.Snapshotter;
import io.drafter.vm.testing.TestGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Drafter's {@code --uid}/{@code --gid} end to end: the snapshotter's and a peer's QEMU run as that user in their
 * sandbox, the peer's FUSE device files belong to it alone (and root), and a VM the peer saved as that user resumes.
 */
@Timeout(600)
class PeerVmmUserTest {
    private static final VmmUser NOBODY = new VmmUser(65534, 65534);
    private static final String DROPPED = "65534 65534 65534 65534";

    @TempDir
    Path dir;

    @Test
    void snapshotterAndPeerRunQemuAsTheUserAndItsSavedVmResumes() throws Exception {
        assumeTrue(
                Files.isReadable(Path.of("/dev/fuse")) && PeerMigrationTest.isRoot(),
                "needs root (to start QEMU as another user) and /dev/fuse");
        // JUnit's temp directory is 0700: QEMU's user must reach the files it is given below it.
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        QemuVmm vmm = new QemuVmm().runningAs(NOBODY);
        Path pkg = dir.resolve("package");
        Set<String> snapshotterUids = ConcurrentHashMap.newKeySet();
        Thread watcher = Thread.ofPlatform().daemon().start(() -> watchQemuUids(snapshotterUids));
        try {
            snapshot(vmm, pkg);
        } finally {
            watcher.interrupt();
            watcher.join();
        }
        assertEquals(Set.of(DROPPED), snapshotterUids, "the snapshotter's QEMU ran as " + NOBODY);

        Path aDir = dir.resolve("peer-a");
        long atStop;
        try (Peer a = Peer.resumeLocal(
                PeerMigrationTest.options(PeerMigrationTest.devices(pkg, aDir, true), aDir.resolve("run")), vmm)) {
            Map<String, String> status = TestGuest.confinement(a.vm().pid());
            assertEquals(DROPPED, status.get("Uid"), status.toString());
            assertEquals(DROPPED, status.get("Gid"), status.toString());
            assertEquals("0000000000000000", status.get("CapEff"), status.toString());
            assertEquals("2", status.get("Seccomp"), status.toString());
            for (String device : List.of("memory", "state", "disk")) {
                Path f = a.mount().file(device);
                assertEquals(65534, Files.getAttribute(f, "unix:uid"), device);
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)), device);
            }
            atStop = PeerMigrationTest.awaitCounterAbove(a, 0, Duration.ofSeconds(90));
            // Saving goes through QEMU's user: its state file and its reopened disks.
            String where = a.stop();
            assertTrue(where.startsWith("the VM is suspended in its devices"), where);
        }
        try (Peer again = Peer.resumeLocal(
                PeerMigrationTest.options(PeerMigrationTest.devices(pkg, aDir, true), aDir.resolve("run")), vmm)) {
            assertEquals(DROPPED, TestGuest.confinement(again.vm().pid()).get("Uid"));
            PeerMigrationTest.awaitCounterAbove(again, atStop, Duration.ofSeconds(90));
            String console = again.vm().consoleTail(400);
            assertFalse(console.contains("counter 1\n"), "the saved VM continues, not restarts: " + console);
            assertFalse(console.contains("BUG:"), console);
        }
        assertEquals(List.of(), TestGuest.qemuUnder(dir), "no QEMU left behind");
        assertFalse(Files.readString(Path.of("/proc/mounts")).contains(dir.toString()), "no mount left behind");
    }

    private void snapshot(QemuVmm vmm, Path pkg) throws Exception {
        Path bp = TestGuest.blueprint();
        List<SnapshotDevice> devices = List.of(
                new SnapshotDevice("state", null, pkg.resolve("state.bin")),
                new SnapshotDevice("memory", null, pkg.resolve("memory.bin")),
                new SnapshotDevice("kernel", bp.resolve("vmlinux"), pkg.resolve("vmlinux")),
                new SnapshotDevice("initrd", bp.resolve("initramfs.img"), pkg.resolve("initramfs.img")),
                new SnapshotDevice("disk", bp.resolve("rootfs.ext4"), pkg.resolve("rootfs.ext4")),
                new SnapshotDevice("config", null, pkg.resolve("config.json")),
                new SnapshotDevice("oci", bp.resolve("oci-counter.ext4"), pkg.resolve("oci.ext4")));
        new Snapshotter(vmm).run(TestGuest.snapshotOptions(devices, dir.resolve("work"), Duration.ofMinutes(2)));
    }

    /** Until interrupted: the {@code Uid} line of every QEMU started under {@code dir}, once it has dropped. */
    private void watchQemuUids(Set<String> uids) {
        while (!Thread.currentThread().isInterrupted()) {
            for (long pid : TestGuest.qemuUnder(dir)) {
                try {
                    String uid = TestGuest.confinement(pid).get("Uid");
                    // Right after exec QEMU is still root: only the state it settles in counts.
                    if (!uid.startsWith("0 ")) {
                        uids.add(uid);
                    }
                } catch (java.io.IOException e) {
                    // the process ended between listing and reading
                }
            }
            try {
                Thread.sleep(200); // the sampling interval: a QEMU's uid announces itself by no event
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
