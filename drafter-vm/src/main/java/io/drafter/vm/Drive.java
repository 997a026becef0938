package io.drafter.vm;

import java.nio.file.Path;

/**
 * A block device attached to the VM as a virtio disk; the first drive becomes {@code /dev/vda}.
 *
 * @param name the device name ({@code disk}, {@code oci}, …), also the QEMU drive id and disk serial
 * @param path the file backing it: a plain file or a file on a FUSE mount
 * @param readOnly whether the guest may only read it
 */
public record Drive(String name, Path path, boolean readOnly) {
    /** Validates the name ({@link VmValues#driveName}): a QEMU id, also a device file name. */
    public Drive {
        try {
            VmValues.driveName("drive name", name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("could not use drive: " + e.getMessage(), e);
        }
    }
}
