package io.drafter.migration.internal;

import com.github.luben.zstd.Zstd;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.ProtocolException;
import java.nio.ByteBuffer;

/**
 * The inverse of {@link BlockEncoder}: the bytes of a block from its BLOCK frame (raw or zstd), and the zeros a ZERO
 * frame stands for.
 *
 * <p><b>Note:</b> thread-safe as long as nobody writes to the buffers {@link #zeros} returns.
 */
public final class BlockDecoder {
    private final byte[] zeros;

    /** A decoder for blocks of up to {@code maxBlockBytes}. */
    public BlockDecoder(int maxBlockBytes) {
        this.zeros = new byte[maxBlockBytes];
    }

    /**
     * The {@link Frame.BlockData#rawLength()} bytes of {@code d}: its own buffer when raw, a new one when compressed.
     *
     * @throws ProtocolException {@link ErrorCode#MALFORMED_FRAME} if the data does not decompress to exactly the raw
     *     length
     */
    public ByteBuffer decode(Frame.BlockData d) throws ProtocolException {
        if (d.encoding() == Frame.BlockData.RAW) {
            return d.data();
        }
        ByteBuffer src = d.data();
        byte[] out = new byte[d.rawLength()];
        long n;
        try {
            n = Zstd.decompressByteArray(
                    out, 0, out.length, src.array(), src.arrayOffset() + src.position(), src.remaining());
        } catch (RuntimeException e) {
            throw malformed("BLOCK " + d.block() + " does not decompress: " + e.getMessage());
        }
        if (Zstd.isError(n) || n != d.rawLength()) {
            throw malformed("BLOCK " + d.block() + " decompresses to "
                    + (Zstd.isError(n) ? "an error (" + Zstd.getErrorName(n) + ")" : n + " bytes") + ", expected "
                    + d.rawLength());
        }
        return ByteBuffer.wrap(out);
    }

    /** {@code length} zero bytes (read-only use). */
    public ByteBuffer zeros(int length) {
        return ByteBuffer.wrap(zeros, 0, length);
    }

    private static ProtocolException malformed(String detail) {
        return new ProtocolException(ErrorCode.MALFORMED_FRAME, "malformed frame: " + detail);
    }
}
