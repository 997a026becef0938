package io.drafter.storage;

import io.drafter.storage.cow.CopyOnWriteDevice;
import io.drafter.storage.dirty.DirtyTrackingDevice;
import io.drafter.storage.metrics.MetricsDevice;
import io.drafter.storage.source.FileBlockDevice;
import io.drafter.storage.source.SparseFileBlockDevice;
import io.drafter.storage.volatility.VolatilityMonitor;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** The contract, run against the whole stack a peer builds: base ◄ COW ◄ waiting ◄ metrics ◄ dirty ◄ volatility. */
class FullStackTest extends BlockDeviceContractTest {
    @Override
    protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) throws IOException {
        return stack(Files.createTempDirectory(tempDir, "stack"), sizeBytes, blockSizeBytes);
    }

    /** Builds the full stack over a zero base in {@code dir}, with a sparse-file overlay. */
    static BlockDevice stack(Path dir, long sizeBytes, int blockSizeBytes) throws IOException {
        Path base = dir.resolve("base");
        if (!Files.exists(base)) {
            FileBlockDevice.create(base, sizeBytes, blockSizeBytes).close();
        }
        BlockDevice cow = CopyOnWriteDevice.open(
                FileBlockDevice.open(base, blockSizeBytes, false),
                SparseFileBlockDevice.open(dir.resolve("overlay"), sizeBytes, blockSizeBytes),
                dir.resolve("state"));
        WaitingDevice waiting = new WaitingDevice(cow, true, null);
        DirtyTrackingDevice dirty = new DirtyTrackingDevice(new MetricsDevice(waiting));
        dirty.startTracking();
        return new VolatilityMonitor(dirty, Duration.ofMinutes(1));
    }
}
