package io.drafter.base;

import java.util.List;
import java.util.Optional;

/**
 * The devices of a Drafter VM, by role: the name a device has in a package, a device list and on the device mount,
 * and the file it is kept in ({@code out/package/<fileName>} by default). Defined here once for the packager, the
 * snapshotter, the peer and the CLI.
 *
 * <p>A device list may hold other devices too (more disks, named freely): a role only names the ones Drafter itself
 * knows.
 */
public enum DeviceRole {
    /** The saved QEMU device state. */
    STATE("state", "state.bin", false),
    /** The guest's RAM. */
    MEMORY("memory", "memory.bin", false),
    /** The guest kernel. */
    KERNEL("kernel", "vmlinux", false),
    /** An initramfs beside the kernel, when the kernel carries none. */
    INITRD("initrd", "initramfs.img", false),
    /** The root file system. */
    DISK("disk", "rootfs.ext4", true),
    /** The VM's configuration (CPUs, memory size, agent port), read by the peer that resumes it. */
    CONFIG("config", "config.json", false),
    /** The OCI runtime bundle. */
    OCI("oci", "oci.ext4", true);

    private final String deviceName;
    private final String fileName;
    private final boolean disk;

    DeviceRole(String deviceName, String fileName, boolean disk) {
        this.deviceName = deviceName;
        this.fileName = fileName;
        this.disk = disk;
    }

    /** The device's name, e.g. {@code "memory"}. */
    public String deviceName() {
        return deviceName;
    }

    /** The file the device is kept in, e.g. {@code "memory.bin"}. */
    public String fileName() {
        return fileName;
    }

    /** Whether the guest sees it as a disk; the others (kernel, initrd, state, memory, config) must never be one. */
    public boolean isDisk() {
        return disk;
    }

    /** The role named {@code deviceName}, if it is one of these. */
    public static Optional<DeviceRole> of(String deviceName) {
        for (DeviceRole r : values()) {
            if (r.deviceName.equals(deviceName)) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    /** Whether {@code deviceName} names this role. */
    public boolean is(String deviceName) {
        return this.deviceName.equals(deviceName);
    }

    /** The devices a peer and the snapshotter use by default, in Drafter's order. */
    public static List<DeviceRole> vmDevices() {
        return List.of(STATE, MEMORY, KERNEL, DISK, CONFIG, OCI);
    }

    /** The devices Drafter's packager packs by default ({@code KnownNames}), in its order. */
    public static List<DeviceRole> packaged() {
        return List.of(KERNEL, DISK, STATE, MEMORY, CONFIG);
    }

    /** The devices a peer needs to resume a VM. */
    public static List<DeviceRole> required() {
        return List.of(STATE, MEMORY, KERNEL, CONFIG);
    }
}
