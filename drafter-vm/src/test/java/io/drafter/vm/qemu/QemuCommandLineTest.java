package io.drafter.vm.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.vm.Accel;
import io.drafter.vm.Console;
import io.drafter.vm.Drive;
import io.drafter.vm.Network;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmmUser;
import io.drafter.vm.testing.VmConfigBuilder;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class QemuCommandLineTest {
    private static VmConfig config(Network net) {
        return VmConfigBuilder.vmConfig()
                .kernel(Path.of("/k/vmlinux"))
                .initrd(Path.of("/k/initramfs.img"))
                .drives(List.of(
                        new Drive("disk", Path.of("/d/rootfs.ext4"), false),
                        new Drive("oci", Path.of("/d/o,ci.ext4"), true)))
                .memoryFile(Path.of("/m/memory.bin"))
                .memorySizeMiB(256)
                .vcpus(2)
                .bootArgs("console=ttyS0")
                .machine("microvm")
                .accel(Accel.TCG)
                .network(net)
                .runDir(Path.of("/run/vm"))
                .consoleLog(Path.of("/run/vm/console.log"))
                .console(Console.LOG)
                .build();
    }

    @Test
    void socketsMoveToAShortDirectoryWhenTheRunDirectoryIsTooDeepForAUnixSocket() {
        VmConfig shallow = config(null);
        assertEquals(Path.of("/run/vm"), QemuCommandLine.socketDir(shallow));
        Path deep = Path.of("/tmp/junit-14712778515180170243/walkthrough/out/vms/qemu/152cc129-1407-45c1-b5f3"
                + "-c3db6659ff8a/vm");
        VmConfig c = VmConfigBuilder.from(shallow)
                .runDir(deep)
                .consoleLog(deep.resolve("console.log"))
                .build();
        Path sockets = QemuCommandLine.socketDir(c);
        assertTrue(sockets.resolve(QemuCommandLine.AGENT_SOCKET).toString().length() < 100, sockets.toString());
        assertEquals(sockets, QemuCommandLine.socketDir(c), "the same directory for the same VM");
        String line = String.join(" ", QemuCommandLine.build("qemu", c, Accel.TCG, false));
        assertTrue(line.contains("-qmp unix:" + sockets.resolve(QemuCommandLine.QMP_SOCKET)), line);
        assertTrue(line.contains("path=" + sockets.resolve(QemuCommandLine.AGENT_SOCKET)), line);
    }

    @Test
    void aConsoleOnStandardOutputWritesThroughItNeverReopensIt() {
        VmConfig base = config(null);
        VmConfig c = VmConfigBuilder.from(base).console(Console.OUTPUT).build();
        String line = String.join(" ", QemuCommandLine.build("qemu", c, Accel.TCG, false));
        assertTrue(line.contains("-chardev stdio,id=con,signal=off,logfile=/run/vm/console.log"), line);
        assertTrue(!line.contains("/dev/stdout"), "reopening /dev/stdout truncates a log file behind it: " + line);
    }

    @Test
    void drivesKeepTheirOrderAndRamIsASharedFile() {
        List<String> a = QemuCommandLine.build("qemu", config(null), Accel.TCG, false);
        String line = String.join(" ", a);
        assertEquals("qemu", a.getFirst());
        assertTrue(line.contains("-object memory-backend-file,id=mem,size=256M,mem-path=/m/memory.bin,share=on"), line);
        assertTrue(line.contains("-machine microvm,memory-backend=mem"), line);
        int disk = line.indexOf("id=disk,");
        int oci = line.indexOf("id=oci,");
        assertTrue(disk > 0 && oci > disk, "disk before oci: " + line);
        assertTrue(
                line.contains("file=/d/o,,ci.ext4,if=none,id=oci,format=raw,cache=writeback,aio=threads,readonly=on"),
                line);
        assertTrue(line.contains("virtserialport,bus=vser0.0,chardev=agent,name=org.drafter.agent"), line);
        assertTrue(line.contains("-qmp unix:/run/vm/qmp.sock,server=on,wait=off"), line);
        assertFalse(line.contains("-incoming"), line);
        assertFalse(line.contains("netdev"), line);
    }

    @Test
    void resumeAddsIncomingDeferAndNamespacePrefixesNsenterIntoTheNetworkNamespaceOnly() {
        List<String> a = QemuCommandLine.build(
                "qemu", config(new Network("ark0", "tap0", Network.DEFAULT_MAC)), Accel.TCG, true);
        assertEquals(List.of("nsenter", "--net=/var/run/netns/ark0", "--", "qemu"), a.subList(0, 4));
        String line = String.join(" ", a);
        assertTrue(line.endsWith("-incoming defer"), line);
        assertTrue(line.contains("-netdev tap,id=net0,ifname=tap0,script=no,downscript=no"), line);
        assertTrue(line.contains("virtio-net-device,netdev=net0,mac=02:0e:d9:fd:68:3d"), line);
    }

    @Test
    void qemuAlwaysRunsSandboxedAndDropsToTheUserWhenGiven() {
        String root = String.join(" ", QemuCommandLine.build("qemu", config(null), Accel.TCG, false));
        assertTrue(
                root.contains("-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"),
                root);
        assertFalse(root.contains("-run-with"), root);
        String user = String.join(
                " ", QemuCommandLine.build("qemu", config(null), Accel.TCG, true, new VmmUser(65534, 65533)));
        assertTrue(
                user.contains("-sandbox on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny"
                        + " -run-with user=65534:65533"),
                user);
    }

    @Test
    void sameConfigGivesSameArguments() {
        assertEquals(
                QemuCommandLine.build("qemu", config(null), Accel.KVM, true),
                QemuCommandLine.build("qemu", config(null), Accel.KVM, true));
        assertTrue(QemuCommandLine.build("qemu", config(null), Accel.KVM, false).contains("host"));
    }

    @Test
    void unresolvedAcceleratorIsRejected() {
        assertThrows(
                IllegalArgumentException.class, () -> QemuCommandLine.build("qemu", config(null), Accel.AUTO, false));
    }

    @Test
    void tscFrequencyIsAppendedOnce() {
        String args = QemuCommandLine.withTscKhz("console=ttyS0");
        if (QemuCommandLine.hostTscKhz().isPresent()) {
            assertTrue(args.matches("console=ttyS0 tsc_early_khz=\\d+"), args);
        }
        assertEquals("a tsc_early_khz=5", QemuCommandLine.withTscKhz("a tsc_early_khz=5"));
    }
}
