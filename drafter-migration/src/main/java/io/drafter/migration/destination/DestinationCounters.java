package io.drafter.migration.destination;

import io.drafter.migration.DeviceTraffic;
import java.time.Duration;
import java.util.Map;

/**
 * A snapshot of what the destination has done so far.
 *
 * @param bytesReceived bytes read from the connection, framing included
 * @param blocksReceived BLOCK frames applied
 * @param zeroBlocks blocks that arrived as ZERO announcements
 * @param dirtyBlocks blocks marked missing again by DIRTY lists
 * @param blocksRequested NEED requests sent (readers that waited)
 * @param readerWaits reads that had to wait for a block, all devices
 * @param readerWaitTime their total wait time
 * @param phaseTimes time spent in each phase that was left
 * @param perDevice per device, in the group's order: the blocks, zero blocks and data bytes applied (empty before
 *     the source announced its devices)
 */
public record DestinationCounters(
        long bytesReceived,
        long blocksReceived,
        long zeroBlocks,
        long dirtyBlocks,
        long blocksRequested,
        long readerWaits,
        Duration readerWaitTime,
        Map<DestinationPhase, Duration> phaseTimes,
        Map<String, DeviceTraffic> perDevice) {}
