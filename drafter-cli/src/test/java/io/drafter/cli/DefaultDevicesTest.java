package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.drafter.base.DeviceRole;
import io.drafter.vm.snapshot.SnapshotDevice;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The default {@code --devices} of the snapshotter is a constant (picocli wants one in its annotation): it must name
 * the devices {@link DeviceRole} defines, with their file names.
 */
class DefaultDevicesTest {
    @Test
    void theSnapshottersDefaultDevicesAreTheVmDevicesWithTheirFileNames() throws Exception {
        List<SnapshotDevice> devices = SnapshotDevice.parseList(SnapshotterCommand.DEFAULT_DEVICES);
        assertEquals(
                DeviceRole.vmDevices().stream().map(DeviceRole::deviceName).toList(),
                devices.stream().map(SnapshotDevice::name).toList());
        for (SnapshotDevice d : devices) {
            DeviceRole role = DeviceRole.of(d.name()).orElseThrow();
            assertEquals(Path.of("out/package", role.fileName()), d.output(), d.name());
        }
    }
}
