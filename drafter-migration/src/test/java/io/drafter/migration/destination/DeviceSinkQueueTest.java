package io.drafter.migration.destination;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.Frame;
import io.drafter.storage.source.MemoryBlockDevice;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The bounds of one device's queue: credit for data, room for the rest, a budget for dirty lists. */
@Timeout(10)
class DeviceSinkQueueTest {
    static final int BLOCK = 4096;
    static final DeviceSpec SPEC = new DeviceSpec("disk", 64L * BLOCK, BLOCK);

    final ExecutorService reader = Executors.newSingleThreadExecutor();
    final AtomicBoolean stopped = new AtomicBoolean();

    DeviceSink sink(int credit, Semaphore dirtyBudget) {
        MemoryBlockDevice storage = new MemoryBlockDevice("disk", SPEC.sizeBytes(), BLOCK);
        return new DeviceSink(0, SPEC, new DestinationStorage.Opened(storage, true), credit, _ -> {}, dirtyBudget);
    }

    static ApplyItem block(long b) {
        return new ApplyItem.Block(new Frame.BlockData(0, b, Frame.BlockData.RAW, BLOCK, ByteBuffer.allocate(BLOCK)));
    }

    static ApplyItem dirty(int blocks) {
        return new ApplyItem.Dirty(new Frame.DirtyBlocks(0, 1, false, new long[blocks]));
    }

    static ApplyItem barrier() {
        return new ApplyItem.Barrier(new CountDownLatch(1));
    }

    @AfterEach
    void stopReader() throws InterruptedException {
        stopped.set(true);
        reader.shutdownNow();
        assertTrue(reader.awaitTermination(5, TimeUnit.SECONDS));
    }

    @Test
    void dataBeyondTheCreditIsRefusedAndAnAppliedFrameMakesRoom() throws InterruptedException {
        DeviceSink s = sink(2, new Semaphore(100));
        assertEquals(DeviceSink.Put.QUEUED, s.put(block(0), stopped::get));
        assertEquals(DeviceSink.Put.QUEUED, s.put(new ApplyItem.Zeros(new Frame.ZeroBlocks(0, 1, 5)), stopped::get));
        assertEquals(DeviceSink.Put.OVER_CREDIT, s.put(block(2), stopped::get), "a source beyond its credit");
        // Dirty lists and barriers spend no credit.
        assertEquals(DeviceSink.Put.QUEUED, s.put(barrier(), stopped::get));
        assertInstanceOf(ApplyItem.Block.class, s.take());
        assertEquals(DeviceSink.Put.QUEUED, s.put(block(2), stopped::get));
    }

    @Test
    void itemsWithoutCreditWaitForRoomInsteadOfFailing() throws Exception {
        DeviceSink s = sink(1, new Semaphore(100));
        for (int i = 0; i < 1 + DeviceSink.CONTROL_SLACK; i++) {
            assertEquals(DeviceSink.Put.QUEUED, s.put(barrier(), stopped::get));
        }
        Future<DeviceSink.Put> waiting = reader.submit(() -> s.put(barrier(), stopped::get));
        assertFalse(waitsLonger(waiting), "the reader waits: back-pressure");
        s.take();
        assertEquals(DeviceSink.Put.QUEUED, waiting.get(5, TimeUnit.SECONDS));
    }

    @Test
    void dirtyListsWaitForTheSharedBudget() throws Exception {
        Semaphore budget = new Semaphore(10);
        DeviceSink a = sink(4, budget);
        DeviceSink b = sink(4, budget);
        assertEquals(DeviceSink.Put.QUEUED, a.put(dirty(6), stopped::get));
        Future<DeviceSink.Put> waiting = reader.submit(() -> b.put(dirty(6), stopped::get));
        assertFalse(waitsLonger(waiting), "the other device's list waits for the budget");
        a.take();
        assertEquals(DeviceSink.Put.QUEUED, waiting.get(5, TimeUnit.SECONDS));
        b.take();
        assertEquals(10, budget.availablePermits(), "taken lists give their blocks back");
    }

    @Test
    void aWaitingReaderStopsWhenTheSessionEnds() throws Exception {
        DeviceSink s = sink(1, new Semaphore(100));
        while (s.offer(barrier())) {
            // fill it
        }
        Future<DeviceSink.Put> waiting = reader.submit(() -> s.put(barrier(), stopped::get));
        assertFalse(waitsLonger(waiting));
        stopped.set(true);
        assertEquals(DeviceSink.Put.STOPPED, waiting.get(5, TimeUnit.SECONDS));
    }

    /** Whether {@code f} is done within 200 ms (a put that must wait is not). */
    static boolean waitsLonger(Future<?> f) throws InterruptedException {
        Thread.sleep(200);
        return f.isDone();
    }
}
