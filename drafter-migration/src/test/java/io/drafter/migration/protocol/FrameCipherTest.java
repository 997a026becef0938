package io.drafter.migration.protocol;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import javax.crypto.AEADBadTagException;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Sealed frames: round trips through the stream writer and reader, the layout, and every way a frame can be changed on
 * the wire (a byte of length, ciphertext or tag, a frame dropped, replayed, reordered, or sealed under the other
 * direction's key) failing to open; seeded fuzzing of sealed streams.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FrameCipherTest {
    static final SecretKey KEY = key(1);
    static final SecretKey OTHER_KEY = key(2);
    static final Frame CLEAR = new Frame.AuthProof(new byte[FrameCodec.MAC_BYTES]);

    static SecretKey key(int seed) {
        byte[] k = new byte[32];
        new Random(seed).nextBytes(k);
        return new SecretKeySpec(k, "AES");
    }

    /** A stream: {@link #CLEAR} in clear, then {@code frames} sealed under {@code key}. */
    static byte[] sealedStream(SecretKey key, List<Frame> frames) throws IOException {
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        FrameProxy out = new FrameProxy(s);
        out.sendNowThenSeal(CLEAR, FrameCipher.sealing(key));
        assertTrue(out.sealed());
        for (Frame f : frames) {
            out.send(f);
        }
        out.flush();
        return s.toByteArray();
    }

    /** A reader past the clear frame of {@link #sealedStream}, opening with {@code key}. */
    static FrameAdapter reader(byte[] stream, SecretKey key) throws IOException {
        FrameAdapter in = new FrameAdapter(new ByteArrayInputStream(stream), "peer-x");
        assertInstanceOf(Frame.AuthProof.class, in.read(), "the frame before the switch is in clear");
        in.openWith(FrameCipher.opening(key));
        assertTrue(in.sealed());
        return in;
    }

    /** The sealed frames of a stream made by {@link #sealedStream}, each with its length prefix. */
    static List<byte[]> split(byte[] stream) {
        List<byte[]> frames = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(stream);
        b.position(4 + b.getInt(0)); // the clear frame
        while (b.hasRemaining()) {
            int len = b.getInt(b.position());
            byte[] f = new byte[4 + len];
            b.get(f);
            frames.add(f);
        }
        return frames;
    }

    static byte[] concat(List<byte[]> parts) {
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        parts.forEach(s::writeBytes);
        return s.toByteArray();
    }

    static byte[] clearPrefix() {
        return FrameCodecTest.bytes(CLEAR);
    }

    @Test
    void everyFrameRoundTripsSealed() throws Exception {
        List<Frame> samples = FrameCodecTest.samples();
        byte[] stream = sealedStream(KEY, samples);
        FrameAdapter in = reader(stream, KEY);
        for (Frame f : samples) {
            assertArrayEquals(FrameCodecTest.bytes(f), FrameCodecTest.bytes(in.read()), f.toString());
        }
        assertThrows(EOFException.class, in::read);
        assertEquals(stream.length, in.bytesReceived(), "wire bytes counted, tags included");
        List<byte[]> sealed = split(stream);
        assertEquals(samples.size(), sealed.size());
        for (int i = 0; i < samples.size(); i++) {
            byte[] clear = FrameCodecTest.bytes(samples.get(i));
            assertEquals(clear.length + FrameCipher.TAG_BYTES, sealed.get(i).length, "one tag more per frame");
            assertEquals(
                    clear.length - 4 + FrameCipher.TAG_BYTES,
                    ByteBuffer.wrap(sealed.get(i)).getInt(),
                    "the length prefix counts the tag");
        }
        // The block sample's random data does not appear on the wire.
        Frame.BlockData block = (Frame.BlockData) samples.get(5);
        byte[] data = new byte[64];
        block.data().duplicate().get(data);
        assertEquals(-1, indexOf(stream, data));
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Test
    void aBlockSealedInPlaceIsTheBlockSealedFromACopy() throws Exception {
        byte[] data = new byte[4096];
        new Random(3).nextBytes(data);
        int h = FrameCodec.BLOCK_HEADER_BYTES;
        byte[] roomy = new byte[h + data.length + FrameCipher.TAG_BYTES];
        System.arraycopy(data, 0, roomy, h, data.length);
        Frame inPlace = new Frame.BlockData(1, 9, Frame.BlockData.RAW, data.length, ByteBuffer.wrap(roomy, h, 4096));
        // No room for the tag behind the data: sealed in the proxy's own buffer.
        byte[] tight = new byte[h + data.length];
        System.arraycopy(data, 0, tight, h, data.length);
        Frame copied = new Frame.BlockData(1, 9, Frame.BlockData.RAW, data.length, ByteBuffer.wrap(tight, h, 4096));
        Frame direct = new Frame.BlockData(
                1,
                9,
                Frame.BlockData.RAW,
                data.length,
                ByteBuffer.allocateDirect(4096).put(data).flip());
        byte[] a = sealedStream(KEY, List.of(inPlace));
        assertArrayEquals(a, sealedStream(KEY, List.of(copied)));
        assertArrayEquals(a, sealedStream(KEY, List.of(direct)));
        assertFalse(
                Arrays.equals(data, 0, 4096, roomy, h, h + 4096),
                "sealed in place: the sender's buffer holds ciphertext");
        assertArrayEquals(data, Arrays.copyOfRange(tight, h, h + 4096), "the tight buffer was only read");
        Frame.BlockData back = (Frame.BlockData) reader(a, KEY).read();
        byte[] got = new byte[4096];
        back.data().get(got);
        assertArrayEquals(data, got);
    }

    @Test
    void theSameFrameSealsDifferentlyEachTime() throws Exception {
        Frame ping = new Frame.Ping(42);
        List<byte[]> sealed = split(sealedStream(KEY, List.of(ping, ping, ping)));
        assertFalse(Arrays.equals(sealed.get(0), sealed.get(1)), "the counter is the nonce");
        assertFalse(Arrays.equals(sealed.get(1), sealed.get(2)));
        assertFalse(Arrays.equals(
                sealed.get(0), split(sealedStream(OTHER_KEY, List.of(ping))).get(0)));
    }

    /** Reads {@code stream} until it fails; returns the failure. */
    static ProtocolException firstFailure(byte[] stream, SecretKey key, int goodFrames) throws Exception {
        FrameAdapter in = reader(stream, key);
        for (int i = 0; i < goodFrames; i++) {
            in.read();
        }
        return assertThrows(ProtocolException.class, in::read);
    }

    static void assertNotAuthenticated(ProtocolException e, long frame) {
        assertEquals(ErrorCode.AUTH_FAILED, e.code());
        assertTrue(
                e.getMessage()
                        .startsWith("could not authenticate frame " + frame + " from peer-x: the tag does not match"),
                e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void everyChangedByteIsRejected() throws Exception {
        Frame.Need need = new Frame.Need(3, 77);
        byte[] stream = sealedStream(KEY, List.of(need, need));
        List<byte[]> sealed = split(stream);
        for (int i = 0; i < sealed.get(1).length; i++) {
            for (int bit : new int[] {0, 7}) {
                byte[] f = sealed.get(1).clone();
                f[i] ^= (byte) (1 << bit);
                byte[] changed = concat(List.of(clearPrefix(), sealed.get(0), f));
                FrameAdapter in = reader(changed, KEY);
                assertEquals(need, in.read());
                try {
                    Frame got = in.read();
                    fail("byte " + i + " bit " + bit + " changed, yet the frame opened as " + got);
                } catch (ProtocolException e) {
                    if (i < 4 && e.code() == ErrorCode.MALFORMED_FRAME) {
                        // A length beyond the bounds is refused before reading.
                        assertTrue(e.getMessage().startsWith("malformed frame: length"), e.getMessage());
                    } else {
                        assertNotAuthenticated(e, 1);
                    }
                } catch (EOFException e) {
                    assertTrue(i < 4, "only a longer length can run past the end: byte " + i);
                }
            }
        }
    }

    @Test
    void droppedReplayedReorderedAndInjectedFramesAreRejected() throws Exception {
        List<Frame> frames = List.of(new Frame.Ping(0), new Frame.Ping(1), new Frame.Ping(2));
        List<byte[]> s = split(sealedStream(KEY, frames));
        byte[] c = clearPrefix();
        assertNotAuthenticated(firstFailure(concat(List.of(c, s.get(0), s.get(2))), KEY, 1), 1); // dropped
        assertNotAuthenticated(firstFailure(concat(List.of(c, s.get(0), s.get(0))), KEY, 1), 1); // replayed
        assertNotAuthenticated(firstFailure(concat(List.of(c, s.get(1), s.get(0))), KEY, 0), 0); // reordered
        byte[] foreign = split(sealedStream(OTHER_KEY, frames)).get(1);
        assertNotAuthenticated(firstFailure(concat(List.of(c, s.get(0), foreign)), KEY, 1), 1); // other key
        byte[] clear = FrameCodecTest.bytes(new Frame.Ping(1));
        // A clear frame after the switch is refused: too short for a tag, or, padded, not authentic.
        ProtocolException e = firstFailure(concat(List.of(c, s.get(0), clear)), KEY, 1);
        assertEquals("malformed frame: length 9 outside 17..4194384", e.getMessage());
        byte[] longer = FrameCodecTest.bytes(new Frame.Error(ErrorCode.ABORTED, "injected, not sealed"));
        assertNotAuthenticated(firstFailure(concat(List.of(c, s.get(0), longer)), KEY, 1), 1);
    }

    @Test
    void aFailedFrameBreaksTheOpener() throws Exception {
        List<byte[]> s = split(sealedStream(KEY, List.of(new Frame.Ping(0), new Frame.Ping(1))));
        FrameCipher opener = FrameCipher.opening(KEY);
        byte[] out = new byte[64];
        byte[] second = s.get(1);
        assertThrows(
                AEADBadTagException.class,
                () -> opener.open(Arrays.copyOf(second, 4), second, 4, second.length - 4, out, 0));
        byte[] first = s.get(0);
        AEADBadTagException e = assertThrows(
                AEADBadTagException.class,
                () -> opener.open(Arrays.copyOf(first, 4), first, 4, first.length - 4, out, 0));
        assertEquals("an earlier frame failed authentication", e.getMessage());
        assertEquals(0, opener.counter());
    }

    @Test
    void sealedLengthsAreBoundedBeforeAllocating() throws Exception {
        for (int len :
                new int[] {0, 1, FrameCipher.TAG_BYTES, FrameCodec.MAX_FRAME_BYTES + FrameCipher.TAG_BYTES + 1, -1}) {
            byte[] stream = concat(
                    List.of(clearPrefix(), ByteBuffer.allocate(4).putInt(len).array()));
            ProtocolException e = firstFailure(stream, KEY, 0);
            assertEquals(ErrorCode.MALFORMED_FRAME, e.code());
            assertEquals(
                    "malformed frame: length " + Integer.toUnsignedString(len) + " outside 17.."
                            + (FrameCodec.MAX_FRAME_BYTES + FrameCipher.TAG_BYTES),
                    e.getMessage());
        }
        // The lowered bound of the handshake holds for sealed frames too, plus the tag.
        byte[] stream = sealedStream(KEY, List.of(new Frame.Authority(new byte[3000])));
        FrameAdapter in = reader(stream, KEY);
        in.limitFrameBytes(2048);
        assertEquals(
                "malformed frame: length 3021 outside 17..2064",
                assertThrows(ProtocolException.class, in::read).getMessage());
        // Truncated inside a sealed frame.
        byte[] whole = sealedStream(KEY, List.of(new Frame.Ping(5)));
        EOFException eof = assertThrows(
                EOFException.class,
                () -> reader(Arrays.copyOf(whole, whole.length - 3), KEY).read());
        assertEquals("connection to peer-x closed inside a frame (22 of 25 bytes)", eof.getMessage());
    }

    @Test
    void misuseIsRefused() throws Exception {
        assertThrows(IllegalArgumentException.class, () -> FrameCipher.sealing(new SecretKeySpec(new byte[16], "AES")));
        assertThrows(
                IllegalArgumentException.class,
                () -> FrameCipher.opening(new SecretKeySpec(new byte[32], "HmacSHA256")));
        byte[] buf = new byte[64];
        assertThrows(IllegalStateException.class, () -> FrameCipher.opening(KEY).seal(buf, 4, 8, buf, 0));
        assertThrows(IllegalStateException.class, () -> FrameCipher.sealing(KEY).open(new byte[4], buf, 0, 20, buf, 0));
        assertThrows(
                IllegalArgumentException.class, () -> FrameCipher.sealing(KEY).seal(buf, 4, 0, buf, 0));
        FrameProxy out = new FrameProxy(new ByteArrayOutputStream());
        out.sendNowThenSeal(CLEAR, FrameCipher.sealing(KEY));
        assertThrows(IllegalStateException.class, () -> out.sendNowThenSeal(CLEAR, FrameCipher.sealing(KEY)));
        FrameAdapter in = new FrameAdapter(new ByteArrayInputStream(new byte[0]), "x");
        in.openWith(FrameCipher.opening(KEY));
        assertThrows(IllegalStateException.class, () -> in.openWith(FrameCipher.opening(KEY)));
        assertEquals(
                "FrameCipher(sealing, next frame 0)", FrameCipher.sealing(KEY).toString());
    }

    /** Sealed streams with bits flipped: every frame read is the one sealed there, then the reader fails cleanly. */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {301, 302, 303, 304, 305, 306})
    void fuzzSealedStreams(long seed) throws Exception {
        Random r = new Random(seed);
        List<Frame> samples = FrameCodecTest.samples();
        for (int i = 0; i < 150; i++) {
            List<Frame> frames = new ArrayList<>();
            for (int k = 1 + r.nextInt(6); k > 0; k--) {
                frames.add(samples.get(r.nextInt(samples.size())));
            }
            byte[] stream = sealedStream(KEY, frames);
            int from = clearPrefix().length;
            int flips = 1 + r.nextInt(3);
            // Distinct bytes: two flips of one bit would cancel.
            r.ints(from, stream.length).distinct().limit(flips).forEach(at -> stream[at] ^= (byte) (1 << r.nextInt(8)));
            FrameAdapter in = reader(stream, KEY);
            try {
                for (int n = 0; n < frames.size(); n++) {
                    Frame f = in.read();
                    assertArrayEquals(
                            FrameCodecTest.bytes(frames.get(n)),
                            FrameCodecTest.bytes(f),
                            "seed " + seed + " stream " + i + ": frame " + n + " opened changed");
                }
            } catch (ProtocolException | EOFException expected) {
                continue; // the only two ways a changed sealed stream may end
            } catch (AssertionError e) {
                throw e;
            } catch (Throwable t) {
                fail("seed " + seed + " stream " + i + ": reader threw " + t, t);
            }
            fail("seed " + seed + " stream " + i + ": " + flips + " flipped bits went unnoticed");
        }
    }
}
