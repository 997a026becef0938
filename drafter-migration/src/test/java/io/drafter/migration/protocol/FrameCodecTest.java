package io.drafter.migration.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Round trips of every frame, the bounds of every decoder, and seeded fuzzing with random and mutated frames. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FrameCodecTest {
    static List<Frame> samples() {
        byte[] nonce = new byte[32];
        Arrays.fill(nonce, (byte) 5);
        byte[] data = new byte[4096];
        new Random(1).nextBytes(data);
        return List.of(
                new Frame.Hello(1, FrameCodec.FLAG_ZSTD | FrameCodec.FLAG_TOKEN, nonce),
                new Frame.HelloReply(1, FrameCodec.FLAG_TOKEN, nonce),
                new Frame.AuthProof(nonce),
                new Frame.DeviceGroup(List.of(
                        new DeviceSpec("disk", 1 << 30, 1 << 20),
                        new DeviceSpec("mémoire", 100_000, 4096),
                        new DeviceSpec("state", 0, 512))),
                new Frame.GroupAccepted(64),
                new Frame.BlockData(3, 77, Frame.BlockData.RAW, data.length, ByteBuffer.wrap(data)),
                new Frame.BlockData(0, 1, Frame.BlockData.ZSTD, 65536, ByteBuffer.wrap(data, 0, 100)),
                new Frame.ZeroBlocks(1, 1L << 40, 12),
                new Frame.DirtyBlocks(
                        2, 9, true, LongStream.range(0, 50).map(i -> i * 3).toArray()),
                new Frame.DirtyBlocks(0, 1, false, new long[0]),
                new Frame.Need(65535, 123456789L),
                new Frame.Credit(4, 16),
                new Frame.Authority("{\"vm\":1}".getBytes(StandardCharsets.UTF_8)),
                new Frame.Authority(new byte[0]),
                new Frame.AuthorityAck(),
                new Frame.Completed(),
                new Frame.Ping(-1),
                new Frame.Takeover(),
                new Frame.Grant(),
                new Frame.Error(ErrorCode.BUSY, "another migration is in progress"),
                new Frame.Error(ErrorCode.DEVICE_MISMATCH, "device \"disk\" differs ✓"));
    }

    static byte[] bytes(Frame f) {
        ByteBuffer b = FrameCodec.encode(f);
        return Arrays.copyOf(b.array(), b.limit());
    }

    static Frame decodeFrame(byte[] withPrefix) throws ProtocolException {
        return FrameCodec.decode(ByteBuffer.wrap(withPrefix, 4, withPrefix.length - 4));
    }

    @ParameterizedTest
    @MethodSource("samples")
    void roundTrips(Frame f) throws Exception {
        byte[] encoded = bytes(f);
        assertEquals(encoded.length - 4, ByteBuffer.wrap(encoded).getInt(), "length prefix");
        Frame back = decodeFrame(encoded);
        assertEquals(f.getClass(), back.getClass());
        assertArrayEquals(encoded, bytes(back), "re-encoding gives the same bytes");
        // And through the stream reader.
        Frame streamed = new FrameAdapter(new ByteArrayInputStream(encoded), "test").read();
        assertArrayEquals(encoded, bytes(streamed));
    }

    @Test
    void blockHeaderMatchesFullEncoding() {
        Frame.BlockData d = (Frame.BlockData) samples().get(5);
        ByteBuffer header = FrameCodec.encodeBlockHeader(d, ByteBuffer.allocate(FrameCodec.BLOCK_HEADER_BYTES));
        byte[] full = bytes(d);
        assertArrayEquals(
                Arrays.copyOf(full, FrameCodec.BLOCK_HEADER_BYTES), Arrays.copyOf(header.array(), header.limit()));
    }

    static void assertMalformed(String expectedPart, byte[] body) {
        ProtocolException e = assertThrows(ProtocolException.class, () -> FrameCodec.decode(ByteBuffer.wrap(body)));
        assertTrue(e.getMessage().contains(expectedPart), "message \"" + e.getMessage() + "\" names " + expectedPart);
    }

    static byte[] body(int type, ByteBuffer payload) {
        byte[] p = Arrays.copyOf(payload.array(), payload.position());
        byte[] out = new byte[1 + p.length];
        out[0] = (byte) type;
        System.arraycopy(p, 0, out, 1, p.length);
        return out;
    }

    @Test
    void rejectsMalformedFramesWithClearMessages() {
        assertMalformed("empty frame", new byte[0]);
        assertMalformed("unknown frame type 0x66", new byte[] {0x66});
        assertMalformed(
                "magic",
                body(
                        FrameCodec.HELLO,
                        ByteBuffer.allocate(40).putInt(0x12345678).put(new byte[36])));
        assertMalformed(
                "HELLO needs 40 bytes",
                body(FrameCodec.HELLO, ByteBuffer.allocate(8).putInt(FrameCodec.MAGIC)));
        assertMalformed(
                "count 0", body(FrameCodec.DEVICE_GROUP, ByteBuffer.allocate(2).putShort((short) 0)));
        assertMalformed(
                "count 300",
                body(FrameCodec.DEVICE_GROUP, ByteBuffer.allocate(2).putShort((short) 300)));
        assertMalformed(
                "not a power of two",
                body(
                        FrameCodec.DEVICE_GROUP,
                        ByteBuffer.allocate(64)
                                .putShort((short) 1)
                                .putShort((short) 1)
                                .put((byte) 'a')
                                .putLong(4096)
                                .putInt(3000)));
        assertMalformed(
                "names device \"a\" twice",
                body(
                        FrameCodec.DEVICE_GROUP,
                        ByteBuffer.allocate(64)
                                .putShort((short) 2)
                                .putShort((short) 1)
                                .put((byte) 'a')
                                .putLong(4096)
                                .putInt(4096)
                                .putShort((short) 1)
                                .put((byte) 'a')
                                .putLong(4096)
                                .putInt(4096)));
        assertMalformed(
                "not valid UTF-8",
                body(
                        FrameCodec.DEVICE_GROUP,
                        ByteBuffer.allocate(64)
                                .putShort((short) 1)
                                .putShort((short) 1)
                                .put((byte) 0xC3)
                                .putLong(4096)
                                .putInt(4096)));
        assertMalformed(
                "size -1",
                body(
                        FrameCodec.DEVICE_GROUP,
                        ByteBuffer.allocate(64)
                                .putShort((short) 1)
                                .putShort((short) 1)
                                .put((byte) 'a')
                                .putLong(-1)
                                .putInt(4096)));
        assertMalformed(
                "raw data holds 3 bytes, header says 4",
                body(
                        FrameCodec.BLOCK,
                        ByteBuffer.allocate(64)
                                .putShort((short) 0)
                                .putLong(0)
                                .put((byte) 0)
                                .putInt(4)
                                .put(new byte[3])));
        assertMalformed(
                "raw length 4294967295",
                body(
                        FrameCodec.BLOCK,
                        ByteBuffer.allocate(64)
                                .putShort((short) 0)
                                .putLong(0)
                                .put((byte) 0)
                                .putInt(-1)));
        assertMalformed(
                "block 18446744073709551615 is too large",
                body(
                        FrameCodec.NEED,
                        ByteBuffer.allocate(10).putShort((short) 0).putLong(-1)));
        assertMalformed(
                "ZERO count 0",
                body(
                        FrameCodec.ZERO,
                        ByteBuffer.allocate(14).putShort((short) 0).putLong(0).putInt(0)));
        assertMalformed(
                "DIRTY count 1000000 does not match",
                body(
                        FrameCodec.DIRTY,
                        ByteBuffer.allocate(64)
                                .putShort((short) 0)
                                .putInt(1)
                                .put((byte) 0)
                                .putInt(1_000_000)
                                .putLong(1)));
        assertMalformed(
                "final flag 2",
                body(
                        FrameCodec.DIRTY,
                        ByteBuffer.allocate(64)
                                .putShort((short) 0)
                                .putInt(1)
                                .put((byte) 2)
                                .putInt(0)));
        assertMalformed(
                "CREDIT 0",
                body(
                        FrameCodec.CREDIT,
                        ByteBuffer.allocate(6).putShort((short) 0).putInt(0)));
        assertMalformed(
                "AUTHORITY payload length 100000",
                body(
                        FrameCodec.AUTHORITY,
                        ByteBuffer.allocate(8).putInt(100_000).putInt(0)));
        assertMalformed(
                "ERROR message length 2000",
                body(
                        FrameCodec.ERROR,
                        ByteBuffer.allocate(8).putShort((short) 1).putShort((short) 2000)));
        assertMalformed(
                "2 extra bytes",
                body(FrameCodec.COMPLETED, ByteBuffer.allocate(2).putShort((short) 0)));
        assertMalformed(
                "frame type 0x23 has 1 extra bytes",
                body(FrameCodec.TAKEOVER, ByteBuffer.allocate(1).put((byte) 0)));
        assertMalformed(
                "frame type 0x24 has 4 extra bytes",
                body(FrameCodec.GRANT, ByteBuffer.allocate(4).putInt(1)));
        assertMalformed("unknown frame type 0x25", new byte[] {0x25});
    }

    @Test
    void newFramesHaveTheirWireValues() throws Exception {
        assertArrayEquals(new byte[] {0, 0, 0, 1, 0x23}, bytes(new Frame.Takeover()));
        assertArrayEquals(new byte[] {0, 0, 0, 1, 0x24}, bytes(new Frame.Grant()));
        assertEquals(11, ErrorCode.BUSY.wire());
        assertEquals(ErrorCode.BUSY, ErrorCode.fromWire(11));
    }

    @Test
    void unknownErrorCodesDecodeAsOther() throws Exception {
        byte[] b = body(
                FrameCodec.ERROR,
                ByteBuffer.allocate(6).putShort((short) 999).putShort((short) 2).put("hi".getBytes()));
        Frame.Error e = (Frame.Error) FrameCodec.decode(ByteBuffer.wrap(b));
        assertEquals(ErrorCode.OTHER, e.code());
        assertEquals("hi", e.message());
    }

    @Test
    void longErrorMessagesAreCutAtACharacterBoundary() throws Exception {
        Frame.Error e = new Frame.Error(ErrorCode.ABORTED, "é".repeat(2000));
        Frame.Error back = (Frame.Error) decodeFrame(bytes(e));
        assertEquals(512, back.message().length());
    }

    @Test
    void streamReaderRejectsLengthsBeyondTheBoundBeforeAllocating() {
        for (int len : new int[] {0, -1, FrameCodec.MAX_FRAME_BYTES + 1, Integer.MAX_VALUE}) {
            byte[] s = ByteBuffer.allocate(4).putInt(len).array();
            ProtocolException e = assertThrows(
                    ProtocolException.class, () -> new FrameAdapter(new ByteArrayInputStream(s), "test").read());
            assertEquals(ErrorCode.MALFORMED_FRAME, e.code());
        }
    }

    @Test
    void aLoweredFrameLimitRejectsLongerFramesUntilItIsRaised() throws Exception {
        byte[] hello = bytes(samples().get(0));
        byte[] huge = ByteBuffer.allocate(4).putInt(0x7fffffff).array();
        byte[] error = bytes(new Frame.Error(ErrorCode.ABORTED, "x".repeat(1000)));
        byte[] block = bytes(samples().get(5));
        java.io.ByteArrayOutputStream s = new java.io.ByteArrayOutputStream();
        s.write(hello);
        s.write(error);
        s.write(block);
        s.write(huge);
        FrameAdapter in = new FrameAdapter(new ByteArrayInputStream(s.toByteArray()), "test");
        in.limitFrameBytes(2048);
        assertEquals(2048, in.maxFrameBytes());
        assertArrayEquals(hello, bytes(in.read()));
        assertArrayEquals(error, bytes(in.read()));
        in.limitFrameBytes(FrameCodec.MAX_FRAME_BYTES);
        assertArrayEquals(block, bytes(in.read()), "raised after authentication");
        in.limitFrameBytes(2048);
        ProtocolException e = assertThrows(ProtocolException.class, in::read);
        assertEquals("malformed frame: length 2147483647 outside 1..2048", e.getMessage());

        FrameAdapter small = new FrameAdapter(new ByteArrayInputStream(block), "test");
        small.limitFrameBytes(2048);
        e = assertThrows(ProtocolException.class, small::read);
        assertEquals("malformed frame: length 4112 outside 1..2048", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> small.limitFrameBytes(0));
        assertThrows(IllegalArgumentException.class, () -> small.limitFrameBytes(FrameCodec.MAX_FRAME_BYTES + 1));
    }

    @Test
    void streamReaderReportsTruncation() {
        byte[] whole = bytes(samples().get(0));
        EOFException e = assertThrows(
                EOFException.class,
                () -> new FrameAdapter(new ByteArrayInputStream(Arrays.copyOf(whole, 20)), "peer-x").read());
        assertEquals("connection to peer-x closed inside a frame (16 of 41 bytes)", e.getMessage());
        e = assertThrows(
                EOFException.class, () -> new FrameAdapter(new ByteArrayInputStream(new byte[2]), "peer-x").read());
        assertTrue(e.getMessage().contains("inside a frame header (2 of 4 bytes)"));
        e = assertThrows(
                EOFException.class, () -> new FrameAdapter(new ByteArrayInputStream(new byte[0]), "peer-x").read());
        assertEquals("connection closed by peer-x", e.getMessage());
    }

    /** Decodes {@code body}; only a frame or a {@link ProtocolException} may come out. */
    static void decodeSafely(byte[] body, int off, int len, long seed, int iteration) {
        try {
            Frame f = FrameCodec.decode(ByteBuffer.wrap(body, off, len));
            // Whatever decodes must encode back to bytes that decode the same way.
            byte[] again = bytes(f);
            assertArrayEquals(again, bytes(decodeFrame(again)), "seed " + seed + " iteration " + iteration);
        } catch (ProtocolException expected) {
            assertEquals(
                    true,
                    expected.getMessage() != null && !expected.getMessage().isEmpty());
        } catch (Throwable t) {
            fail("seed " + seed + " iteration " + iteration + ": decoder threw " + t, t);
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
    void fuzzRandomBodies(long seed) {
        Random r = new Random(seed);
        for (int i = 0; i < 5000; i++) {
            byte[] b = new byte[r.nextInt(80)];
            r.nextBytes(b);
            if (b.length > 0 && r.nextBoolean()) {
                // Aim at real types so the field checks, not just the type switch, get exercised.
                int[] types = {1, 2, 3, 4, 5, 0x10, 0x11, 0x12, 0x13, 0x14, 0x20, 0x21, 0x22, 0x23, 0x24, 0x30, 0x7F};
                b[0] = (byte) types[r.nextInt(types.length)];
            }
            decodeSafely(b, 0, b.length, seed, i);
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {101, 102, 103, 104, 105, 106, 107, 108})
    void fuzzMutatedFrames(long seed) {
        Random r = new Random(seed);
        List<Frame> samples = samples();
        for (int i = 0; i < 4000; i++) {
            byte[] whole = bytes(samples.get(r.nextInt(samples.size())));
            byte[] b = Arrays.copyOfRange(whole, 4, whole.length);
            switch (r.nextInt(4)) {
                case 0 -> {
                    for (int k = 1 + r.nextInt(4); k > 0; k--) {
                        b[r.nextInt(b.length)] = (byte) r.nextInt(256);
                    }
                }
                case 1 -> b = Arrays.copyOf(b, r.nextInt(b.length + 1));
                case 2 -> {
                    b = Arrays.copyOf(b, b.length + 1 + r.nextInt(16));
                }
                default -> {
                    // Set a 16- or 32-bit field somewhere to an extreme.
                    if (b.length > 5) {
                        int at = 1 + r.nextInt(b.length - 4);
                        ByteBuffer.wrap(b).putInt(at, r.nextBoolean() ? -1 : Integer.MAX_VALUE);
                    }
                }
            }
            decodeSafely(b, 0, b.length, seed, i);
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {201, 202, 203, 204})
    void fuzzStreams(long seed) throws IOException {
        Random r = new Random(seed);
        List<Frame> samples = samples();
        for (int i = 0; i < 300; i++) {
            java.io.ByteArrayOutputStream s = new java.io.ByteArrayOutputStream();
            for (int k = r.nextInt(6); k >= 0; k--) {
                s.write(bytes(samples.get(r.nextInt(samples.size()))));
            }
            byte[] stream = s.toByteArray();
            for (int k = r.nextInt(3); k > 0; k--) {
                stream[r.nextInt(stream.length)] ^= (byte) (1 << r.nextInt(8));
            }
            FrameAdapter in = new FrameAdapter(new ByteArrayInputStream(stream), "fuzz");
            try {
                for (int n = 0; n < 100; n++) {
                    in.read();
                }
            } catch (EOFException | ProtocolException expected) {
                // the only two ways a bad stream may end
            } catch (Throwable t) {
                fail("seed " + seed + " stream " + i + ": reader threw " + t, t);
            }
        }
    }

    // Found by FrameFuzzTest (the inputs are in its corpus too).

    @Test
    void aDeviceNameWithANewlineStaysOnOneLineInTheError() {
        // found by decodeShortRun: the error about a device whose name holds a newline took two lines
        byte[] body = HexFormat.of().parseHex("04000100030a736b000000400000000000100200");
        ProtocolException e = assertThrows(ProtocolException.class, () -> FrameCodec.decode(ByteBuffer.wrap(body)));
        assertEquals(
                "malformed frame: DEVICE_GROUP device \"\\u000ask\": block size 1049088 is not a power of two in"
                        + " 512..4194304",
                e.getMessage());
    }

    @Test
    void aDuplicateDeviceNameIsQuotedWithItsControlCharactersEscaped() {
        byte[] body = HexFormat.of().parseHex("0400020002071b0000000000001000000010000002071b000000000000100000001000");
        ProtocolException e = assertThrows(ProtocolException.class, () -> FrameCodec.decode(ByteBuffer.wrap(body)));
        assertEquals("malformed frame: DEVICE_GROUP names device \"\\u0007\\u001b\" twice", e.getMessage());
    }
}
