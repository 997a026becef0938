package io.drafter.storage.dirty;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.storage.BlockDeviceContractTest;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DirtyTrackingDeviceTest {
    @Test
    void reportsExactlyTheBlocksWrittenSinceTheLastCollection() throws IOException {
        try (DirtyTrackingDevice d = new DirtyTrackingDevice(new MemoryBlockDevice("t", 16 * 4096, 4096))) {
            d.write(ByteBuffer.allocate(10), 0); // before tracking: not reported
            d.startTracking();
            d.write(ByteBuffer.allocate(1), 4096 * 3 + 5);
            d.write(ByteBuffer.allocate(4097), 4096 * 7); // blocks 7 and 8
            BitSet expected = new BitSet();
            expected.set(3);
            expected.set(7);
            expected.set(8);
            assertEquals(expected, d.collect());
            assertTrue(d.collect().isEmpty(), "collection resets");
            d.stopTracking();
            d.write(ByteBuffer.allocate(1), 0);
            assertTrue(d.collect().isEmpty());
        }
    }

    /**
     * Property: with concurrent writers, a replica that copies the collected blocks after each collection, plus a
     * final collection once writers stop, ends identical to the device. A missed write would leave it different.
     */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5})
    @Timeout(60)
    void concurrentWritersAreNeverMissed(long seed) throws Exception {
        int bs = 512;
        int blocks = 256;
        MemoryBlockDevice backing = new MemoryBlockDevice("src", (long) bs * blocks, bs);
        DirtyTrackingDevice d = new DirtyTrackingDevice(backing);
        byte[] replica = new byte[bs * blocks];
        d.startTracking();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> writers = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            long writerSeed = seed * 31 + w;
            writers.add(Thread.ofPlatform().name("writer-" + w).start(() -> {
                Random r = new Random(writerSeed);
                try {
                    while (!stop.get()) {
                        int off = r.nextInt(bs * blocks - 100);
                        byte[] data = new byte[1 + r.nextInt(100)];
                        r.nextBytes(data);
                        d.write(ByteBuffer.wrap(data), off);
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }));
        }
        long rounds = 0;
        long deadline = System.nanoTime() + 300_000_000L;
        while (System.nanoTime() < deadline) {
            copy(d, d.collect(), replica, bs);
            rounds++;
        }
        stop.set(true);
        for (Thread t : writers) {
            t.join();
        }
        copy(d, d.collect(), replica, bs);
        assertArrayEquals(BlockDeviceContractTest.readAll(d), replica, "seed " + seed + " after " + rounds + " rounds");
        d.close();
    }

    private static void copy(DirtyTrackingDevice d, BitSet dirty, byte[] replica, int bs) throws IOException {
        for (int b = dirty.nextSetBit(0); b >= 0; b = dirty.nextSetBit(b + 1)) {
            ByteBuffer buf = ByteBuffer.wrap(replica, b * bs, bs).slice();
            d.read(buf, (long) b * bs);
        }
    }
}
