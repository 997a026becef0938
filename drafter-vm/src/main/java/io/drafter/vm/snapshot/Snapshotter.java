package io.drafter.vm.snapshot;

import io.drafter.base.DeviceRole;
import io.drafter.vm.Accel;
import io.drafter.vm.Console;
import io.drafter.vm.Drive;
import io.drafter.vm.KernelImage;
import io.drafter.vm.Network;
import io.drafter.vm.SnapshotConfig;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.VmValues;
import io.drafter.vm.VmmFiles;
import io.drafter.vm.VmmUser;
import io.drafter.vm.qemu.QemuVmm;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Drafter's snapshotter: boots a blueprint, waits for the guest's liveness signal, calls {@code
 * BeforeSuspend}, pauses and saves, then writes every device ({@code state}, {@code memory}, {@code
 * config}, and copies of {@code kernel}, {@code disk}, {@code oci}, …) to its output, zero-padded like
 * Drafter's (to a multiple of 1 MiB plus 1 MiB).
 *
 * <p>Threading: one call at a time per instance.
 */
public final class Snapshotter {
    private static final System.Logger LOG = System.getLogger(Snapshotter.class.getName());
    private static final long MIB = 1024 * 1024;

    /**
     * Snapshot settings (Drafter's flags that mean something to QEMU).
     *
     * @param devices the device list, in order
     * @param workBase directory under which a private work directory is made (Drafter's chroot base)
     * @param memorySizeMiB guest RAM
     * @param vcpus vCPUs
     * @param bootArgs kernel command line
     * @param accel accelerator (AUTO probes)
     * @param network the tap NIC, or {@code null}
     * @param resumeTimeout longest wait for liveness and the agent
     * @param console where the serial console goes besides the log
     * @param cpuTemplate recorded in config.json, not used by QEMU
     * @param pad whether to zero-pad outputs as Drafter does
     */
    public record Options(
            List<SnapshotDevice> devices,
            Path workBase,
            int memorySizeMiB,
            int vcpus,
            String bootArgs,
            Accel accel,
            Network network,
            Duration resumeTimeout,
            Console console,
            String cpuTemplate,
            boolean pad) {}

    /**
     * What a snapshot produced.
     *
     * @param outputs device name to output file
     * @param snapshot timings and state size
     * @param accel the accelerator used
     * @param bootToReady time from QEMU start to the guest's liveness signal
     */
    public record Result(
            Map<String, Path> outputs, VmInstance.SnapshotResult snapshot, Accel accel, Duration bootToReady) {}

    private final QemuVmm vmm;

    /** A snapshotter driving {@code vmm}. */
    public Snapshotter(QemuVmm vmm) {
        this.vmm = vmm;
    }

    /** Boots, snapshots and writes the outputs; the work directory is removed afterwards. */
    public Result run(Options o) throws VmException {
        try {
            VmValues.cpuTemplate("cpuTemplate", o.cpuTemplate());
        } catch (IllegalArgumentException e) {
            throw new VmException("could not snapshot: " + e.getMessage());
        }
        Map<String, SnapshotDevice> byName = new LinkedHashMap<>();
        o.devices().forEach(d -> byName.put(d.name(), d));
        for (DeviceRole required : List.of(DeviceRole.KERNEL, DeviceRole.DISK)) {
            SnapshotDevice d = byName.get(required.deviceName());
            if (d == null || d.input() == null) {
                throw new VmException("could not snapshot: device " + required + " with an input is required");
            }
        }
        for (SnapshotDevice d : o.devices()) {
            if (d.input() != null && !Files.isRegularFile(d.input())) {
                throw new VmException(
                        "could not snapshot: input of device " + d.name() + " (" + d.input() + ") does not exist");
            }
        }
        Path work = o.workBase().resolve("qemu").resolve(UUID.randomUUID().toString());
        VmmUser user = vmm.user().orElse(null);
        try {
            createPrivateDirectory(work);
            // The copies are the VM's disks and RAM: root's alone, except the disks QEMU reopens as its user.
            VmmFiles.restrictDir(work, user);
            Map<String, Path> local = new LinkedHashMap<>();
            for (SnapshotDevice d : o.devices()) {
                if (d.input() != null) {
                    Path dst = work.resolve(d.name());
                    Files.copy(d.input(), dst, StandardCopyOption.REPLACE_EXISTING);
                    Files.setPosixFilePermissions(
                            dst, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
                    local.put(d.name(), dst);
                }
            }
            Path initrd = local.get(DeviceRole.INITRD.deviceName());
            // Without an initrd device: the initramfs the kernel image carries (DrafterOS's does: the walkthrough's
            // device lists have only kernel and disk), else one beside the kernel.
            boolean embedded = false;
            if (initrd == null) {
                initrd = KernelImage.extractInitrd(local.get(DeviceRole.KERNEL.deviceName()), work.resolve("initrd"))
                        .orElse(null);
                embedded = initrd != null;
            }
            if (initrd == null) {
                Path beside =
                        byName.get(DeviceRole.KERNEL.deviceName()).input().resolveSibling(DeviceRole.INITRD.fileName());
                if (Files.isRegularFile(beside)) {
                    initrd = work.resolve("initrd");
                    Files.copy(beside, initrd, StandardCopyOption.REPLACE_EXISTING);
                    local.put(DeviceRole.INITRD.deviceName(), initrd);
                }
            }
            List<Drive> drives = new ArrayList<>();
            drives.add(new Drive(DeviceRole.DISK.deviceName(), local.get(DeviceRole.DISK.deviceName()), false));
            for (SnapshotDevice d : o.devices()) {
                if (!SnapshotDevice.KNOWN_NAMES.contains(d.name())) {
                    if (local.get(d.name()) == null) {
                        throw new VmException("could not snapshot: extra disk " + d.name() + " has no input");
                    }
                    drives.add(new Drive(d.name(), local.get(d.name()), false));
                }
            }
            if (user != null) {
                for (Drive d : drives) {
                    VmmFiles.giveTo(d.path(), user);
                }
            }
            Path memory = work.resolve("memory");
            Path state = work.resolve("state");
            Path config = work.resolve("config");
            VmConfig vc = new VmConfig(
                    local.get(DeviceRole.KERNEL.deviceName()),
                    initrd,
                    drives,
                    memory,
                    o.memorySizeMiB(),
                    o.vcpus(),
                    o.bootArgs(),
                    "microvm",
                    o.accel(),
                    o.network(),
                    work.resolve("run"),
                    work.resolve("console.log"),
                    o.console());
            long t0 = System.nanoTime();
            VmInstance.SnapshotResult snap;
            Accel used;
            Duration bootToReady;
            VmConfig effective;
            try (VmInstance vm = vmm.boot(vc)) {
                vm.awaitReady(o.resumeTimeout());
                bootToReady = Duration.ofNanos(System.nanoTime() - t0);
                snap = vm.snapshot(state, o.resumeTimeout());
                used = vm.accel();
                effective = vm.config();
            }
            new SnapshotConfig(
                            SnapshotConfig.VERSION,
                            26,
                            SnapshotConfig.AGENT_CHANNEL,
                            effective.memorySizeMiB(),
                            effective.vcpus(),
                            used.qemuName(),
                            effective.machine(),
                            effective.bootArgs(),
                            initrd != null,
                            drives.stream().map(Drive::name).toList(),
                            o.network() == null ? null : o.network().tapInterface(),
                            o.network() == null ? null : o.network().mac(),
                            o.cpuTemplate(),
                            vmm.version())
                    .validate() // never write a config that a resume would refuse
                    .write(config);
            local.put(DeviceRole.STATE.deviceName(), state);
            local.put(DeviceRole.MEMORY.deviceName(), memory);
            local.put(DeviceRole.CONFIG.deviceName(), config);
            Map<String, Path> outputs = new LinkedHashMap<>();
            for (SnapshotDevice d : o.devices()) {
                Path src = local.get(d.name());
                if (src == null) {
                    throw new VmException("could not write output of device " + d.name() + ": nothing produced it");
                }
                copyPadded(src, d.output(), o.pad());
                outputs.put(d.name(), d.output());
            }
            if (initrd != null && !embedded && !byName.containsKey(DeviceRole.INITRD.deviceName())) {
                Path kernelOut = byName.get(DeviceRole.KERNEL.deviceName()).output();
                Path dst = kernelOut.resolveSibling(DeviceRole.INITRD.fileName());
                copyPadded(initrd, dst, false);
                outputs.put(DeviceRole.INITRD.deviceName(), dst);
            }
            LOG.log(System.Logger.Level.INFO, "snapshot written: {0}", outputs);
            return new Result(outputs, snap, used, bootToReady);
        } catch (IOException e) {
            if (e instanceof VmException ve) {
                throw ve;
            }
            throw new VmException("could not snapshot: " + e, e);
        } finally {
            deleteTree(work);
        }
    }

    /**
     * Creates {@code work} {@code 0700}: while the VM runs it holds copies of the disks, guest memory and device
     * state, which no other user may read.
     */
    static void createPrivateDirectory(Path work) throws IOException {
        Files.createDirectories(work.toAbsolutePath().getParent());
        Files.createDirectory(work, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    /**
     * Copies {@code src} to {@code dst}, then appends zeros up to Drafter's padded size when {@code pad}. The output
     * is a new {@code 0600} file renamed over {@code dst} when complete: it holds guest memory, device state or a
     * disk, and {@link Files#copy} would give it the source's mode (QEMU's files are world-readable under the
     * usual umask).
     */
    static void copyPadded(Path src, Path dst, boolean pad) throws IOException {
        Path abs = dst.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".partial-" + UUID.randomUUID());
        boolean done = false;
        try (FileChannel in = FileChannel.open(src, StandardOpenOption.READ);
                FileChannel out = FileChannel.open(
                        tmp,
                        EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            long size = in.size();
            for (long pos = 0; pos < size; ) {
                long n = in.transferTo(pos, size - pos, out);
                if (n <= 0) {
                    throw new IOException("could not copy " + src + " to " + dst + ": it shrank to " + pos + " bytes");
                }
                pos += n;
            }
            if (pad) {
                long padded = (size % MIB == 0 ? size : (size / MIB + 1) * MIB) + MIB;
                out.write(java.nio.ByteBuffer.allocate(1), padded - 1);
            }
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not remove work directory {0}: {1}", dir, e.getMessage());
        }
    }
}
