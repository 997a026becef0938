package io.drafter.vm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.drafter.vm.testing.VmConfigBuilder;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The records that reach QEMU's command line refuse what {@link VmValues} does, whoever builds them. */
class VmValuesTest {
    private static String refusal(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    private static VmConfig config(String machine, String bootArgs, int memoryMiB, int vcpus, List<Drive> drives) {
        Path p = Path.of("/x");
        return VmConfigBuilder.vmConfig()
                .kernel(p)
                .drives(drives)
                .memoryFile(p)
                .memorySizeMiB(memoryMiB)
                .vcpus(vcpus)
                .bootArgs(bootArgs)
                .machine(machine)
                .accel(Accel.TCG)
                .runDir(p)
                .consoleLog(p)
                .build();
    }

    @Test
    void networkValuesCannotAddQemuOptionsOrLeaveTheNetnsDirectory() {
        assertEquals(
                "could not use network: mac \"02:00:00:00:00:01,romfile=/etc/shadow\" is not six hex octets (like"
                        + " 02:0e:d9:fd:68:3d)",
                refusal(() -> new Network("ark0", "tap0", "02:00:00:00:00:01,romfile=/etc/shadow")));
        assertEquals(
                "could not use network: tap interface \"tap0,script=/x\" is not an interface name (a letter, then up"
                        + " to 14 of A-Z a-z 0-9 . _ -)",
                refusal(() -> new Network("ark0", "tap0,script=/x", Network.DEFAULT_MAC)));
        assertEquals(
                "could not use network: netns \"../../proc/1/ns/net\" is not a namespace name (up to 64 of A-Z a-z 0-9"
                        + " . _ -, not starting with . _ -)",
                refusal(() -> new Network("../../proc/1/ns/net", "tap0", Network.DEFAULT_MAC)));
        new Network(null, "tap0", Network.DEFAULT_MAC);
        new Network("ark-0.a_b", "veth.12", "02:AB:cd:00:00:01");
    }

    @Test
    void vmConfigValuesAreBoundedAndFromTheAllowList() {
        List<Drive> disk = List.of(new Drive("disk", Path.of("/d"), false));
        assertEquals(
                "could not use VM config: machine \"microvm,accel=kvm\" is not a machine drafter runs (microvm, q35,"
                        + " pc, pc-q35-X.Y, pc-i440fx-X.Y)",
                refusal(() -> config("microvm,accel=kvm", "console=ttyS0", 128, 1, disk)));
        assertEquals(
                "could not use VM config: boot arguments \"quiet\\u0000 -device x\" holds a control or non-ASCII"
                        + " character",
                refusal(() -> config("microvm", "quiet\0 -device x", 128, 1, disk)));
        assertEquals(
                "could not use VM config: memory size 8 is out of range (16 to 1048576 MiB)",
                refusal(() -> config("microvm", "quiet", 8, 1, disk)));
        assertEquals(
                "could not use VM config: vCPUs 256 is out of range (1 to 255)",
                refusal(() -> config("microvm", "quiet", 128, 256, disk)));
        assertEquals(
                "could not use VM config: drives[1] \"disk\" is listed twice",
                refusal(() -> config("microvm", "quiet", 128, 1, List.of(disk.getFirst(), disk.getFirst()))));
        assertEquals(
                "could not use drive: drive name \"memory\" cannot be a drive (kernel, initrd, state, memory and config"
                        + " are not disks)",
                refusal(() -> new Drive("memory", Path.of("/m"), false)));
        config("pc-q35-10.0", "console=ttyS0 tsc_early_khz=2445404", 1 << 20, 255, disk);
    }

    @Test
    void quotedValuesAreCutAndEscaped() {
        assertEquals("\"" + "a".repeat(64) + "…\"", VmValues.quote("a".repeat(100)));
        assertEquals("\"\\\"\\\\\\u001b[2J\\u00e9\"", VmValues.quote("\"\\\u001b[2Jé"));
        assertEquals("null", VmValues.quote(null));
    }
}
