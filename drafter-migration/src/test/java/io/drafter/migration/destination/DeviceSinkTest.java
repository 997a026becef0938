package io.drafter.migration.destination;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.internal.BlockEncoder;
import io.drafter.migration.protocol.BufferPool;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.testing.TestDevices;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** How one destination device applies what arrives, without a connection. */
@Timeout(10)
class DeviceSinkTest {
    static final int BLOCK = 4096;
    static final DeviceSpec SPEC = new DeviceSpec("disk", 4L * BLOCK, BLOCK);

    final MemoryBlockDevice storage = new MemoryBlockDevice("disk", SPEC.sizeBytes(), BLOCK);
    final List<Long> missing = new ArrayList<>();
    final BufferPool pool = new BufferPool(BLOCK + 64, 4);

    DeviceSink sink(boolean zeroFilled, int credit) {
        return new DeviceSink(0, SPEC, new DestinationStorage.Opened(storage, zeroFilled), credit, missing::add);
    }

    static byte[] filled(int value) {
        byte[] b = new byte[BLOCK];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /** The frame the source's encoder makes of {@code bytes}, copied out of the encoder's buffers. */
    static Frame.BlockData block(long block, byte[] bytes, boolean zstd) {
        BlockEncoder e = new BlockEncoder(BLOCK, zstd);
        e.readBuffer(bytes.length).put(bytes);
        Frame.BlockData f = (Frame.BlockData) e.encode(0, block, bytes.length);
        ByteBuffer copy = ByteBuffer.allocate(f.data().remaining());
        copy.put(f.data().duplicate()).flip();
        return new Frame.BlockData(0, block, f.encoding(), f.rawLength(), copy);
    }

    @Test
    void storesRawAndCompressedBlocksAndCountsThemAsData() throws IOException {
        DeviceSink s = sink(true, 8);
        assertTrue(s.apply(new ApplyItem.Block(block(1, filled(7), true)), pool));
        byte[] random = new byte[BLOCK];
        new Random(1).nextBytes(random);
        Frame.BlockData raw = block(2, random, true);
        assertEquals(Frame.BlockData.RAW, raw.encoding());
        assertTrue(s.apply(new ApplyItem.Block(raw), pool));
        assertArrayEquals(filled(7), TestDevices.block(storage, 1));
        assertArrayEquals(random, TestDevices.block(storage, 2));
        assertTrue(s.waiting.isPresent(1) && s.waiting.isPresent(2));
        assertEquals(2, s.blocksReceived());
    }

    @Test
    void zeroBlocksOnZeroFilledStorageAreOnlyMarkedUnlessSomethingWasStored() throws IOException {
        DeviceSink s = sink(true, 8);
        s.apply(new ApplyItem.Block(block(1, filled(9), false)), pool);
        assertTrue(s.apply(new ApplyItem.Zeros(new Frame.ZeroBlocks(0, 0, 2)), pool));
        assertTrue(s.waiting.isPresent(0));
        assertArrayEquals(new byte[BLOCK], TestDevices.block(storage, 1), "block 1 held data: zeros written");
        assertEquals(2, s.zeroBlocks());
    }

    @Test
    void zeroBlocksOnOtherStorageAreWritten() throws IOException {
        storage.write(ByteBuffer.wrap(filled(3)), 0);
        DeviceSink s = sink(false, 8);
        s.apply(new ApplyItem.Zeros(new Frame.ZeroBlocks(0, 0, 1)), pool);
        assertArrayEquals(new byte[BLOCK], TestDevices.block(storage, 0));
    }

    @Test
    void aDirtyListMarksBlocksMissingAndSpendsNoCredit() throws IOException {
        DeviceSink s = sink(true, 8);
        s.apply(new ApplyItem.Zeros(new Frame.ZeroBlocks(0, 0, 4)), pool);
        assertFalse(s.apply(new ApplyItem.Dirty(new Frame.DirtyBlocks(0, 1, false, new long[] {1, 3})), pool));
        assertFalse(s.waiting.isPresent(1));
        assertFalse(s.waiting.isPresent(3));
        assertTrue(s.waiting.isPresent(2));
        assertEquals(2, s.dirtyBlocks());
    }

    @Test
    void aBarrierIsCountedDown() throws IOException {
        DeviceSink s = sink(true, 8);
        CountDownLatch applied = new CountDownLatch(1);
        assertFalse(s.apply(new ApplyItem.Barrier(applied), pool));
        assertEquals(0, applied.getCount());
    }

    @Test
    void aBlockThatDoesNotDecodeIsMalformed() {
        DeviceSink s = sink(true, 8);
        Frame.BlockData bad = new Frame.BlockData(0, 1, Frame.BlockData.ZSTD, BLOCK, ByteBuffer.wrap(new byte[16]));
        ProtocolException e = assertThrows(ProtocolException.class, () -> s.apply(new ApplyItem.Block(bad), pool));
        assertEquals(ErrorCode.MALFORMED_FRAME, e.code());
    }

    @Test
    void theQueueHoldsTheCreditAndTheSlack() throws InterruptedException {
        DeviceSink s = sink(true, 2);
        for (int i = 0; i < 2 + DeviceSink.CONTROL_SLACK; i++) {
            assertTrue(s.offer(new ApplyItem.Barrier(new CountDownLatch(1))));
        }
        assertFalse(s.offer(new ApplyItem.Barrier(new CountDownLatch(1))), "overrun");
        assertFalse(s.idle());
        s.take();
        assertTrue(s.offer(new ApplyItem.Barrier(new CountDownLatch(1))));
    }

    @Test
    void aReadOfAMissingBlockAsksForItAndWaitsUntilItIsApplied() throws Exception {
        CountDownLatch asked = new CountDownLatch(1);
        DeviceSink s = new DeviceSink(0, SPEC, new DestinationStorage.Opened(storage, true), 8, block -> {
            missing.add(block);
            asked.countDown();
        });
        ExecutorService reader = Executors.newSingleThreadExecutor();
        try {
            Future<byte[]> read = reader.submit(() -> {
                ByteBuffer buf = ByteBuffer.allocate(BLOCK);
                s.waiting.read(buf, 2L * BLOCK);
                return buf.array();
            });
            assertTrue(asked.await(5, TimeUnit.SECONDS), "the read asked for the block");
            assertEquals(List.of(2L), missing);
            s.apply(new ApplyItem.Block(block(2, filled(5), true)), pool);
            assertArrayEquals(filled(5), read.get(5, TimeUnit.SECONDS));
        } finally {
            s.waiting.fail(new IOException("test over"));
            reader.shutdownNow();
            assertTrue(reader.awaitTermination(5, TimeUnit.SECONDS));
        }
    }
}
