package io.drafter.migration;

/**
 * What a migration moved of one device, in one direction.
 *
 * @param blocks blocks whose data went over the link (BLOCK frames)
 * @param zeroBlocks blocks announced as all-zero instead of sent
 * @param dataBytes bytes of block data as they went over the link (after compression), framing and sealing not
 *     included
 */
public record DeviceTraffic(long blocks, long zeroBlocks, long dataBytes) {}
