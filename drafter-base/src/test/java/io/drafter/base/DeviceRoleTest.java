package io.drafter.base;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class DeviceRoleTest {
    @Test
    void namesAndFilesAreDraftersOwn() {
        assertEquals("memory", DeviceRole.MEMORY.deviceName());
        assertEquals("memory.bin", DeviceRole.MEMORY.fileName());
        assertEquals("vmlinux", DeviceRole.KERNEL.fileName());
        assertEquals("rootfs.ext4", DeviceRole.DISK.fileName());
        assertEquals("oci.ext4", DeviceRole.OCI.fileName());
        assertEquals(Optional.of(DeviceRole.CONFIG), DeviceRole.of("config"));
        assertEquals(Optional.empty(), DeviceRole.of("data"));
        assertTrue(DeviceRole.STATE.is("state"));
    }

    @Test
    void onlyTheDiskAndTheOciBundleAreDisks() {
        assertEquals(
                List.of(DeviceRole.DISK, DeviceRole.OCI),
                List.of(DeviceRole.values()).stream().filter(DeviceRole::isDisk).toList());
        assertFalse(DeviceRole.INITRD.isDisk());
    }

    @Test
    void theDefaultListsKeepDraftersOrder() {
        assertEquals(
                List.of("state", "memory", "kernel", "disk", "config", "oci"),
                DeviceRole.vmDevices().stream().map(DeviceRole::deviceName).toList());
        assertEquals(
                List.of("kernel", "disk", "state", "memory", "config"),
                DeviceRole.packaged().stream().map(DeviceRole::deviceName).toList());
    }
}
