package io.drafter.migration.source;

import io.drafter.migration.DeviceTraffic;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A snapshot of what the source has done so far.
 *
 * @param bytesSent bytes written to the connection, framing included
 * @param blocksSent BLOCK frames sent (data)
 * @param zeroBlocks blocks announced as all-zero instead of sent
 * @param compressedBlocks BLOCK frames whose data went zstd-compressed
 * @param dataBytesRead bytes read from the devices to send
 * @param priorityBlocks blocks sent ahead of the queue because the destination asked
 * @param rounds dirty rounds run, all devices together (the final set included)
 * @param dirtyPerRound per device, the number of dirty blocks each round found (the last entry is the final set)
 * @param phaseTimes time spent in each phase that was left
 * @param suspendToAuthority from the suspend hook's return to the destination's AUTHORITY_ACK (it applied every final
 *     dirty list and prepares), or {@code null} if that did not happen
 * @param suspendToGrant from the suspend hook's return to the GRANT being written behind the last block: the part of
 *     the downtime the source controls (the destination runs after reading it), or {@code null} if not granted
 * @param perDevice per device, in the group's order: the blocks, zero blocks and data bytes sent
 */
public record SourceCounters(
        long bytesSent,
        long blocksSent,
        long zeroBlocks,
        long compressedBlocks,
        long dataBytesRead,
        long priorityBlocks,
        int rounds,
        Map<String, List<Integer>> dirtyPerRound,
        Map<SourcePhase, Duration> phaseTimes,
        Duration suspendToAuthority,
        Duration suspendToGrant,
        Map<String, DeviceTraffic> perDevice) {}
