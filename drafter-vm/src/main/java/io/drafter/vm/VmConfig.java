package io.drafter.vm;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Everything needed to start a VM (or to resume one: the same values it was snapshotted with).
 *
 * @param kernel the kernel image booted with {@code -kernel} (bzImage or PVH ELF)
 * @param initrd the initramfs, or {@code null}
 * @param drives the disks in attachment order; {@code disk} first
 * @param memoryFile the guest RAM file ({@code memory-backend-file,share=on}); created sparse at boot
 *     when absent
 * @param memorySizeMiB guest RAM size
 * @param vcpus number of vCPUs
 * @param bootArgs kernel command line (the driver appends {@code tsc_early_khz} when not present)
 * @param machine QEMU machine type, {@code microvm} or {@code q35} (see {@link VmValues#machine})
 * @param accel accelerator, {@link Accel#AUTO} to probe
 * @param network the tap NIC, or {@code null} for none
 * @param runDir directory for the QMP and agent sockets and QEMU's own log
 * @param consoleLog file receiving the serial console
 * @param console where the serial console goes besides {@code consoleLog}
 */
public record VmConfig(
        Path kernel,
        Path initrd,
        List<Drive> drives,
        Path memoryFile,
        int memorySizeMiB,
        int vcpus,
        String bootArgs,
        String machine,
        Accel accel,
        Network network,
        Path runDir,
        Path consoleLog,
        Console console) {

    /** Drafter's default boot arguments, adapted to QEMU microvm with an initramfs. */
    public static final String DEFAULT_BOOT_ARGS = "console=ttyS0 panic=1 quiet root=/dev/vda rootfstype=ext4"
            + " i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd printk.devkmsg=on nokaslr";

    /** Checks every value that reaches QEMU's command line against {@link VmValues}. */
    public VmConfig {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(memoryFile, "memoryFile");
        Objects.requireNonNull(runDir, "runDir");
        Objects.requireNonNull(consoleLog, "consoleLog");
        drives = List.copyOf(drives);
        if (machine == null || machine.isBlank()) {
            machine = "microvm";
        }
        if (bootArgs == null || bootArgs.isBlank()) {
            bootArgs = DEFAULT_BOOT_ARGS;
        }
        // Everything that reaches QEMU's command line, once more whatever built the config (VmValues says why).
        try {
            VmValues.memorySizeMiB("memory size", memorySizeMiB);
            VmValues.vcpus("vCPUs", vcpus);
            VmValues.machine("machine", machine);
            VmValues.bootArgs("boot arguments", bootArgs);
            VmValues.driveNames("drives", drives.stream().map(Drive::name).toList());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("could not use VM config: " + e.getMessage(), e);
        }
        if (console == null) {
            console = Console.LOG;
        }
        if (accel == null) {
            accel = Accel.AUTO;
        }
    }

    /** A config with Drafter's defaults for the given kernel, initrd, drives and memory file. */
    public static VmConfig of(
            Path kernel, Path initrd, List<Drive> drives, Path memoryFile, int memorySizeMiB, Path runDir) {
        return new VmConfig(
                kernel,
                initrd,
                drives,
                memoryFile,
                memorySizeMiB,
                1,
                DEFAULT_BOOT_ARGS,
                "microvm",
                Accel.AUTO,
                null,
                runDir,
                runDir.resolve("console.log"),
                Console.LOG);
    }

    /** This config with the accelerator and boot arguments replaced: what a boot actually runs with. */
    public VmConfig resolved(Accel a, String args) {
        return new VmConfig(
                kernel,
                initrd,
                drives,
                memoryFile,
                memorySizeMiB,
                vcpus,
                args,
                machine,
                a,
                network,
                runDir,
                consoleLog,
                console);
    }
}
