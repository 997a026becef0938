package io.drafter.migration.internal;

import com.github.luben.zstd.Zstd;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameCipher;
import io.drafter.migration.protocol.FrameCodec;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Turns one block read from a device into the frame that carries it: ZERO for a block of zeros, BLOCK with zstd when
 * compression was agreed and saves at least 1/32 of the block, BLOCK raw otherwise.
 *
 * <p>Both of its buffers keep room for the frame header before the data and for the tag of a sealed frame after it, so
 * {@link io.drafter.migration.protocol.FrameProxy} builds (and seals) the frame in place and writes it at once.
 *
 * <p><b>Note:</b> not thread-safe, and the frame {@link #encode} returns shares its buffers: send it before the next
 * {@link #readBuffer}. One per thread that sends blocks (the source's agent).
 */
public final class BlockEncoder {
    private static final int HEADER = FrameCodec.BLOCK_HEADER_BYTES;

    private final boolean zstd;
    private final byte[] data;
    private final byte[] compressed;
    private final byte[] zeros;

    /** An encoder for blocks of up to {@code maxBlockBytes}; {@code zstd}: compression was agreed. */
    public BlockEncoder(int maxBlockBytes, boolean zstd) {
        this.zstd = zstd;
        this.data = new byte[HEADER + maxBlockBytes + FrameCipher.TAG_BYTES];
        this.compressed = new byte[HEADER + (int) Zstd.compressBound(maxBlockBytes) + FrameCipher.TAG_BYTES];
        this.zeros = new byte[maxBlockBytes];
    }

    /** The buffer to read the next block of {@code length} bytes into: position 0 of the block is its position. */
    public ByteBuffer readBuffer(int length) {
        return ByteBuffer.wrap(data, HEADER, length);
    }

    /**
     * The frame for block {@code block} of device {@code device}, whose {@code length} bytes were read into {@link
     * #readBuffer}: {@link Frame.ZeroBlocks}, or {@link Frame.BlockData} with {@link Frame.BlockData#ZSTD} or {@link
     * Frame.BlockData#RAW}.
     */
    public Frame encode(int device, long block, int length) {
        if (Arrays.mismatch(data, HEADER, HEADER + length, zeros, 0, length) < 0) {
            return new Frame.ZeroBlocks(device, block, 1);
        }
        if (zstd) {
            long c = Zstd.compressByteArray(
                    compressed, HEADER, compressed.length - HEADER - FrameCipher.TAG_BYTES, data, HEADER, length, 1);
            if (!Zstd.isError(c) && c < length - (length >> 5)) {
                return new Frame.BlockData(
                        device, block, Frame.BlockData.ZSTD, length, ByteBuffer.wrap(compressed, HEADER, (int) c));
            }
        }
        return new Frame.BlockData(device, block, Frame.BlockData.RAW, length, ByteBuffer.wrap(data, HEADER, length));
    }
}
