package io.drafter.expose.fuse;

import static io.drafter.linux.fuse.FuseAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.drafter.fuzz.FuzzCrash;
import io.drafter.fuzz.FuzzRun;
import io.drafter.fuzz.FuzzTarget;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Fuzz target of FUSE request decoding: a request ({@code fuse_in_header} and body) goes through {@link
 * FuseServer#dispatch} into a {@link DeviceFileSystem} of two memory devices, laid out in a buffer as a serving
 * thread lays it, without a kernel. The devices never fail, so any exception is a crash (a range the handler should
 * have refused reached a device, or a short body was read past its end); so is a reply that is not {@code NO_REPLY},
 * an errno in 1..4095 or a body that fits both the buffer and what the request asked for.
 */
class FuseFuzzTest {
    private static final int OWNER = 1000;
    private static final FuseOptions OPTIONS = FuseOptions.defaults();
    private static final long BUFFER_BYTES = FuseServer.DATA_OFFSET + OPTIONS.maxIoBytes() + 4096L;

    /** The handlers log refused opens and bad INITs: not a line per fuzz input. */
    private static final java.util.logging.Logger QUIET = quiet();

    static final List<String> DICTIONARY = List.of("disk\0", "state\0", ".\0", "..\0", "\0");

    static final FuzzTarget REQUEST = new FuzzTarget("fuse", FuseFuzzTest::serve, t -> false, 1 << 20);

    static void serve(byte[] request) throws IOException {
        try (Arena arena = Arena.ofConfined();
                MemoryBlockDevice disk = new MemoryBlockDevice("disk", 10_000, 4096);
                MemoryBlockDevice state = new MemoryBlockDevice("state", 4096, 4096)) {
            List<BlockDevice> devices = List.of(disk, state);
            DeviceFileSystem fs = new DeviceFileSystem(List.of("disk", "state"), devices, OPTIONS, OWNER, OWNER, 0);
            MemorySegment buf = arena.allocate(BUFFER_BYTES, 4096);
            MemorySegment in = buf.asSlice(FuseServer.REQUEST_OFFSET);
            MemorySegment out = buf.asSlice(FuseServer.DATA_OFFSET);
            int length = (int) Math.min(request.length, in.byteSize());
            MemorySegment.copy(MemorySegment.ofArray(request), 0, in, 0, length);
            // header fields the checks below need, read before the reply overwrites them
            int opcode = length >= IN_HEADER_BYTES ? in.get(JAVA_INT, IN_OPCODE) : -1;
            int size = in.get(JAVA_INT, IN_HEADER_BYTES + 16);
            int result = FuseServer.dispatch(fs, in, length, out);
            check(opcode, size, result, out.byteSize());
            for (BlockDevice d : devices) {
                if (d.sizeBytes() != (d == disk ? 10_000 : 4096)) {
                    throw new FuzzCrash("fuse: opcode " + opcode + " resized device " + d);
                }
            }
        }
    }

    private static void check(int opcode, int size, int result, long outBytes) {
        String problem = null;
        if (result == DeviceFileSystem.NO_REPLY) {
            if (opcode != FORGET && opcode != BATCH_FORGET && opcode != INTERRUPT) {
                problem = "no reply";
            }
        } else if (result < 0) {
            if (result < -4095) {
                problem = "errno " + -result;
            }
        } else if (result > outBytes) {
            problem = "a reply of " + result + " bytes, larger than the buffer";
        } else if ((opcode == READ || opcode == READDIR) && Integer.compareUnsigned(result, size) > 0) {
            problem = "a reply of " + result + " bytes to a request for " + Integer.toUnsignedString(size);
        }
        if (problem != null) {
            throw new FuzzCrash("fuse: opcode " + opcode + " answered with " + problem);
        }
    }

    private static java.util.logging.Logger quiet() {
        java.util.logging.Logger l = java.util.logging.Logger.getLogger(DeviceFileSystem.class.getName());
        l.setLevel(java.util.logging.Level.OFF);
        return l;
    }

    @FuzzTest
    void request(byte[] request) {
        REQUEST.run(request);
    }

    @Test
    void requestShortRun() {
        System.out.println(FuzzRun.run(
                REQUEST,
                FuzzRun.corpus(FuseFuzzTest.class, "request"),
                DICTIONARY,
                FuzzRun.seed(),
                10_000,
                Duration.ofSeconds(5)));
    }
}
