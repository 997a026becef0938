package io.drafter.peer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.ForwardingBlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The state device's tail: where its zeros begin, and zeroing behind a shorter state with as few writes as it needs. */
class StateTailTest {
    private static final int SIZE = (2 << 20) + 1000; // a short last chunk

    @Test
    void theZerosBeginAfterTheLastChunkThatIsNotZero() throws IOException {
        try (MemoryBlockDevice dev = new MemoryBlockDevice("state", SIZE, 4096)) {
            assertEquals(0, StateTail.zeroFrom(dev));
            fill(dev, 0, 100_000, 1);
            assertEquals(2 * StateTail.CHUNK, StateTail.zeroFrom(dev));
            fill(dev, SIZE - 1, 1, 7);
            assertEquals(SIZE, StateTail.zeroFrom(dev));
        }
    }

    @Test
    void zeroingWritesOnlyTheChunksThatAreNotZeroUpToTheBound() throws IOException {
        try (MemoryBlockDevice mem = new MemoryBlockDevice("state", SIZE, 4096)) {
            Writes dev = new Writes(mem);
            fill(dev, 0, 300_000, 3); // an older, longer state
            fill(dev, SIZE - 10, 10, 9); // past the bound: left alone
            dev.writes.clear();

            byte[] newer = new byte[100_000];
            Arrays.fill(newer, (byte) 5);
            dev.write(ByteBuffer.wrap(newer), 0);
            dev.writes.clear();
            StateTail.zero(dev, newer.length, 300_000);

            // Chunks counted from the new state's end, up to the one that holds the older state's last byte.
            assertEquals(List.of(100_000L, 165_536L, 231_072L, 296_608L), dev.writes);
            assertEquals(0, mismatchFromZero(mem, newer.length, 300_000 - newer.length));
            assertArrayEquals(newer, read(mem, 0, newer.length));
            assertEquals(SIZE, StateTail.zeroFrom(mem), "what lies past the bound is the caller's");

            dev.writes.clear();
            StateTail.zero(dev, newer.length, 300_000);
            assertEquals(List.of(), dev.writes, "a tail of zeros is not written again");
            StateTail.zero(dev, newer.length, Long.MAX_VALUE);
            assertEquals(List.of(2_066_080L), dev.writes, "the chunk with the bytes past the old bound");
            assertEquals(2 * StateTail.CHUNK, StateTail.zeroFrom(mem));
        }
    }

    private static void fill(BlockDevice dev, long offset, int length, int value) throws IOException {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        dev.write(ByteBuffer.wrap(b), offset);
    }

    private static byte[] read(BlockDevice dev, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        dev.read(b, offset);
        return b.array();
    }

    private static int mismatchFromZero(BlockDevice dev, long offset, int length) throws IOException {
        byte[] b = read(dev, offset, length);
        for (byte x : b) {
            if (x != 0) {
                return 1;
            }
        }
        return 0;
    }

    /** Records the offset of every write. */
    private static final class Writes extends ForwardingBlockDevice {
        final List<Long> writes = new ArrayList<>();

        Writes(BlockDevice delegate) {
            super(delegate);
        }

        @Override
        public int write(ByteBuffer src, long offsetBytes) throws IOException {
            writes.add(offsetBytes);
            return super.write(src, offsetBytes);
        }
    }
}
