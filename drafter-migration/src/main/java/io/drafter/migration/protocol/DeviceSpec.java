package io.drafter.migration.protocol;

/**
 * One device of a migrating group as both sides describe it: its name, size and block size.
 *
 * @param name unique within the group, 1..255 bytes of UTF-8
 * @param sizeBytes the device size
 * @param blockSizeBytes the migration granularity, a power of two between 512 B and 4 MiB
 */
public record DeviceSpec(String name, long sizeBytes, int blockSizeBytes) {
    /** The number of blocks, the last one possibly short. */
    public long blockCount() {
        return (sizeBytes + blockSizeBytes - 1) / blockSizeBytes;
    }

    /** The length of {@code block}: {@link #blockSizeBytes()} except maybe for the last block. */
    public int blockLength(long block) {
        return (int) Math.min(blockSizeBytes, sizeBytes - block * blockSizeBytes);
    }
}
