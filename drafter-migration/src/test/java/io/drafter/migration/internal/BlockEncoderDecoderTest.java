package io.drafter.migration.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameCipher;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.ProtocolException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The block encoder and decoder alone: which frame a block becomes, and that its bytes come back. */
class BlockEncoderDecoderTest {
    static final int BLOCK = 4096;

    static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(42).nextBytes(b);
        return b;
    }

    static byte[] repetitive(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i % 7 + 1);
        }
        return b;
    }

    static Frame encode(BlockEncoder e, byte[] block) {
        ByteBuffer buf = e.readBuffer(block.length);
        buf.put(block);
        return e.encode(3, 17, block.length);
    }

    static byte[] decode(BlockDecoder d, Frame f) throws ProtocolException {
        ByteBuffer out = d.decode((Frame.BlockData) f);
        byte[] bytes = new byte[out.remaining()];
        out.get(bytes);
        return bytes;
    }

    @Test
    void aBlockOfZerosBecomesOneZeroFrame() {
        Frame f = encode(new BlockEncoder(BLOCK, true), new byte[BLOCK]);
        assertEquals(new Frame.ZeroBlocks(3, 17, 1), f);
        assertEquals(ByteBuffer.wrap(new byte[100]), new BlockDecoder(BLOCK).zeros(100));
    }

    @Test
    void aCompressibleBlockGoesAsZstdAndComesBack() throws ProtocolException {
        byte[] block = repetitive(BLOCK);
        Frame.BlockData f = assertInstanceOf(Frame.BlockData.class, encode(new BlockEncoder(BLOCK, true), block));
        assertEquals(Frame.BlockData.ZSTD, f.encoding());
        assertEquals(BLOCK, f.rawLength());
        assertTrue(f.data().remaining() < BLOCK - BLOCK / 32);
        assertArrayEquals(block, decode(new BlockDecoder(BLOCK), f));
    }

    @Test
    void withoutCompressionAgreedEveryDataBlockGoesRaw() throws ProtocolException {
        byte[] block = repetitive(BLOCK);
        Frame.BlockData f = assertInstanceOf(Frame.BlockData.class, encode(new BlockEncoder(BLOCK, false), block));
        assertEquals(Frame.BlockData.RAW, f.encoding());
        assertArrayEquals(block, decode(new BlockDecoder(BLOCK), f));
    }

    @Test
    void anIncompressibleBlockGoesRawEvenWithCompression() throws ProtocolException {
        byte[] block = random(BLOCK);
        Frame.BlockData f = assertInstanceOf(Frame.BlockData.class, encode(new BlockEncoder(BLOCK, true), block));
        assertEquals(Frame.BlockData.RAW, f.encoding());
        assertArrayEquals(block, decode(new BlockDecoder(BLOCK), f));
        assertSame(f.data(), new BlockDecoder(BLOCK).decode(f), "a raw block is not copied");
    }

    @Test
    void aShortLastBlockRoundTrips() throws ProtocolException {
        BlockEncoder e = new BlockEncoder(BLOCK, true);
        BlockDecoder d = new BlockDecoder(BLOCK);
        for (byte[] block : new byte[][] {repetitive(1000), random(1000), new byte[1000]}) {
            Frame f = encode(e, block);
            byte[] back = f instanceof Frame.ZeroBlocks ? new byte[1000] : decode(d, f);
            assertArrayEquals(block, back);
        }
    }

    @Test
    void framesLeaveRoomForTheHeaderAndTheTag() {
        BlockEncoder e = new BlockEncoder(BLOCK, true);
        for (byte[] block : new byte[][] {repetitive(BLOCK), random(BLOCK)}) {
            ByteBuffer data = ((Frame.BlockData) encode(e, block)).data();
            assertTrue(data.arrayOffset() + data.position() >= FrameCodec.BLOCK_HEADER_BYTES);
            assertTrue(data.array().length - data.arrayOffset() - data.limit() >= FrameCipher.TAG_BYTES);
        }
    }

    @Test
    void aBlockThatDoesNotDecompressToItsLengthIsMalformed() {
        byte[] block = repetitive(BLOCK);
        Frame.BlockData f = (Frame.BlockData) encode(new BlockEncoder(BLOCK, true), block);
        byte[] bytes = Arrays.copyOfRange(
                f.data().array(),
                f.data().arrayOffset() + f.data().position(),
                f.data().arrayOffset() + f.data().limit());
        Frame.BlockData wrongLength =
                new Frame.BlockData(3, 17, Frame.BlockData.ZSTD, BLOCK - 1, ByteBuffer.wrap(bytes));
        ProtocolException e1 = assertThrows(ProtocolException.class, () -> new BlockDecoder(BLOCK).decode(wrongLength));
        assertEquals(ErrorCode.MALFORMED_FRAME, e1.code());

        Frame.BlockData garbage = new Frame.BlockData(3, 17, Frame.BlockData.ZSTD, BLOCK, ByteBuffer.wrap(random(64)));
        ProtocolException e2 = assertThrows(ProtocolException.class, () -> new BlockDecoder(BLOCK).decode(garbage));
        assertEquals(ErrorCode.MALFORMED_FRAME, e2.code());
    }
}
