package io.drafter.storage;

import io.drafter.storage.dirty.DirtyTrackingDevice;
import io.drafter.storage.metrics.MetricsDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import io.drafter.storage.volatility.VolatilityMonitor;
import io.drafter.storage.waiting.WaitingDevice;
import java.time.Duration;
import org.junit.jupiter.api.Nested;

/**
 * Every layer of a device stack, alone over a memory device, through the block-device contract: a layer must behave as
 * a device to what sits above it, whatever it does on the side (tracking, counting, waiting).
 */
class LayerContractTest {
    static MemoryBlockDevice memory(long sizeBytes, int blockSizeBytes) {
        return new MemoryBlockDevice("layer", sizeBytes, blockSizeBytes);
    }

    @Nested
    class DirtyTracking extends BlockDeviceContractTest {
        @Override
        protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) {
            DirtyTrackingDevice d = new DirtyTrackingDevice(memory(sizeBytes, blockSizeBytes));
            d.startTracking();
            return d;
        }
    }

    @Nested
    class Volatility extends BlockDeviceContractTest {
        @Override
        protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) {
            return new VolatilityMonitor(memory(sizeBytes, blockSizeBytes), Duration.ofSeconds(5));
        }
    }

    @Nested
    class Metrics extends BlockDeviceContractTest {
        @Override
        protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) {
            return new MetricsDevice(memory(sizeBytes, blockSizeBytes));
        }
    }

    /** A post-copy destination whose blocks have all arrived. */
    @Nested
    class WaitingComplete extends BlockDeviceContractTest {
        @Override
        protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) {
            return new WaitingDevice(memory(sizeBytes, blockSizeBytes), true, null);
        }
    }

    /** A post-copy destination whose blocks are all missing and arrive (as zeros) the moment a reader asks. */
    @Nested
    class WaitingSuppliedOnDemand extends BlockDeviceContractTest {
        @Override
        protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) {
            WaitingDevice[] self = new WaitingDevice[1];
            self[0] = new WaitingDevice(memory(sizeBytes, blockSizeBytes), false, block -> {
                // Called on the reading thread before it waits: the "source" answers at once.
                self[0].markPresent(block, block + 1);
            });
            return self[0];
        }
    }
}
