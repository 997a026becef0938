package io.drafter.storage;

import java.io.IOException;

/** Block range arithmetic and argument checks shared by every device and layer. */
public final class BlockMath {
    private BlockMath() {}

    /** The number of blocks needed to hold {@code sizeBytes}. */
    public static long blockCount(long sizeBytes, int blockSizeBytes) {
        return (sizeBytes + blockSizeBytes - 1) / blockSizeBytes;
    }

    /** The index of the first block touched by a range starting at {@code offsetBytes}. */
    public static long firstBlock(long offsetBytes, int blockSizeBytes) {
        return offsetBytes / blockSizeBytes;
    }

    /** The index one past the last block touched by {@code [offsetBytes, offsetBytes + lengthBytes)}. */
    public static long endBlock(long offsetBytes, long lengthBytes, int blockSizeBytes) {
        if (lengthBytes <= 0) {
            return firstBlock(offsetBytes, blockSizeBytes);
        }
        return (offsetBytes + lengthBytes - 1) / blockSizeBytes + 1;
    }

    /** The length of block {@code block} of a device of {@code sizeBytes}: the last block may be short. */
    public static int blockLength(long block, long sizeBytes, int blockSizeBytes) {
        long start = block * blockSizeBytes;
        return (int) Math.min(blockSizeBytes, sizeBytes - start);
    }

    /** Checks that {@code blockSizeBytes} is a positive power of two. */
    public static int requirePowerOfTwo(int blockSizeBytes, String what) {
        if (blockSizeBytes <= 0 || Integer.bitCount(blockSizeBytes) != 1) {
            throw new IllegalArgumentException(what + " must be a power of two, got " + blockSizeBytes);
        }
        return blockSizeBytes;
    }

    /**
     * The number of bytes a read of {@code wantedBytes} at {@code offsetBytes} may return on a device of {@code
     * sizeBytes}.
     */
    public static int readableBytes(long offsetBytes, int wantedBytes, long sizeBytes, String device)
            throws IOException {
        if (offsetBytes < 0) {
            throw new IOException("could not read " + device + ": negative offset " + offsetBytes);
        }
        if (offsetBytes >= sizeBytes) {
            return 0;
        }
        return (int) Math.min(wantedBytes, sizeBytes - offsetBytes);
    }

    /** Checks that a write of {@code lengthBytes} at {@code offsetBytes} lies inside a device of {@code sizeBytes}. */
    public static void checkWrite(long offsetBytes, long lengthBytes, long sizeBytes, String device)
            throws IOException {
        if (offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > sizeBytes) {
            throw new IOException("could not write " + device + ": range [" + offsetBytes + ", "
                    + (offsetBytes + lengthBytes) + ") is outside the device's " + sizeBytes + " bytes");
        }
    }
}
