package io.drafter.migration.protocol;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.drafter.fuzz.FuzzCrash;
import io.drafter.fuzz.FuzzRun;
import io.drafter.fuzz.FuzzTarget;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Fuzz targets of the migration framing: {@link FrameCodec#decode} on a frame body, and {@link FrameAdapter#read} on
 * a stream of length-prefixed frames. Each {@code @FuzzTest} replays its corpus in the suite ({@code
 * FrameFuzzTestInputs/<method>}); {@code scripts/fuzz.sh frame-decode} fuzzes it with Jazzer; the {@code *ShortRun}
 * tests run seeded mutants of the corpus.
 */
class FrameFuzzTest {
    /** Frame type bytes, the magic and a few field values: the mutator writes them over the input. */
    static final List<String> DICTIONARY = List.of("DRFT", "\u0001", "\u0004", "\u0010", "\u0012", "\u007f");

    /**
     * A frame body decodes to a frame or a {@link ProtocolException} with a stated reason (not the catch-all that turns
     * an unchecked exception into "undecodable frame"); what decodes encodes back to the same bytes.
     */
    static final FuzzTarget DECODE =
            new FuzzTarget("frame-decode", FrameFuzzTest::decodeBody, FrameFuzzTest::refusal, 1 << 20);

    /**
     * A stream of frames reads as frames until an {@link EOFException} or a {@link ProtocolException}; a length prefix
     * allocates at most one frame ({@value FrameCodec#MAX_FRAME_BYTES} bytes) more than the stream holds.
     */
    static final FuzzTarget READ = new FuzzTarget(
            "frame-read",
            FrameFuzzTest::readStream,
            t -> refusal(t) || FuzzTarget.oneLine(EOFException.class).test(t),
            FrameCodec.MAX_FRAME_BYTES + (1 << 20));

    static boolean refusal(Throwable t) {
        return FuzzTarget.oneLine(ProtocolException.class).test(t)
                // the catch-all's own message; a peer's text may say "undecodable frame" anywhere else
                && !t.getMessage().startsWith("malformed frame: undecodable frame (");
    }

    static void decodeBody(byte[] body) throws ProtocolException {
        Frame f = FrameCodec.decode(ByteBuffer.wrap(body));
        ByteBuffer encoded = FrameCodec.encode(f);
        byte[] again = Arrays.copyOfRange(encoded.array(), 4, encoded.limit());
        boolean unknownErrorCode = f instanceof Frame.Error e && e.code() == ErrorCode.OTHER;
        if (!unknownErrorCode && !Arrays.equals(again, body)) {
            throw new FuzzCrash(
                    "frame-decode: " + f + " encodes to " + HexFormat.of().formatHex(again));
        }
    }

    static void readStream(byte[] stream) throws IOException {
        FrameAdapter adapter = new FrameAdapter(new BufferedInputStream(new ByteArrayInputStream(stream)), "fuzz");
        if (stream.length % 2 == 1) {
            adapter.usePool(new BufferPool(64 << 10, 2));
        }
        if (stream.length % 3 == 0) {
            adapter.limitFrameBytes(1 + 8 + FrameCodec.NONCE_BYTES); // an unauthenticated peer's bound
        }
        while (true) {
            adapter.read(); // ends with an EOFException at the latest
        }
    }

    @FuzzTest
    void decode(byte[] body) {
        DECODE.run(body);
    }

    @FuzzTest
    void read(byte[] stream) {
        READ.run(stream);
    }

    @Test
    void decodeShortRun() {
        System.out.println(FuzzRun.run(
                DECODE,
                FuzzRun.corpus(FrameFuzzTest.class, "decode"),
                DICTIONARY,
                FuzzRun.seed(),
                100_000,
                Duration.ofSeconds(5)));
    }

    @Test
    void readShortRun() {
        System.out.println(FuzzRun.run(
                READ,
                FuzzRun.corpus(FrameFuzzTest.class, "read"),
                DICTIONARY,
                FuzzRun.seed(),
                5_000,
                Duration.ofSeconds(5)));
    }
}
