package io.drafter.storage.source;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockDeviceContractTest;

class MemoryBlockDeviceTest extends BlockDeviceContractTest {
    @Override
    protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) {
        return new MemoryBlockDevice("test", sizeBytes, blockSizeBytes);
    }
}
