package io.drafter.storage.waiting;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class WaitingDeviceTest {
    static final int BS = 4096;

    static ByteBuffer block(int value) {
        byte[] b = new byte[BS];
        java.util.Arrays.fill(b, (byte) value);
        return ByteBuffer.wrap(b);
    }

    static CompletableFuture<byte[]> readAsync(WaitingDevice d, long offset, int len) {
        return CompletableFuture.supplyAsync(() -> {
            ByteBuffer buf = ByteBuffer.allocate(len);
            try {
                d.read(buf, offset);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return buf.array();
        });
    }

    @Test
    void readOfMissingBlockWaitsForItAndAsksForItOnce() throws Exception {
        List<Long> asked = new CopyOnWriteArrayList<>();
        WaitingDevice d = new WaitingDevice(new MemoryBlockDevice("t", 8 * BS, BS), false, asked::add);
        CompletableFuture<byte[]> r1 = readAsync(d, 2 * BS + 1, 10);
        CompletableFuture<byte[]> r2 = readAsync(d, 2 * BS + 100, 10);
        assertThrows(TimeoutException.class, () -> r1.get(200, TimeUnit.MILLISECONDS));
        assertFalse(r2.isDone());
        d.supply(2, block(9));
        byte[] expected = new byte[10];
        java.util.Arrays.fill(expected, (byte) 9);
        assertArrayEquals(expected, r1.get(5, TimeUnit.SECONDS));
        assertArrayEquals(expected, r2.get(5, TimeUnit.SECONDS));
        assertEquals(List.of(2L), asked, "de-duplicated demand");
        assertEquals(2, d.waitCount());
    }

    @Test
    void presentBlocksDoNotWaitWhileOthersDo() throws Exception {
        WaitingDevice d = new WaitingDevice(new MemoryBlockDevice("t", 8 * BS, BS), false, null);
        d.supply(0, block(1));
        CompletableFuture<byte[]> blocked = readAsync(d, 5 * BS, 1);
        assertArrayEquals(new byte[] {1}, readAsync(d, 0, 1).get(5, TimeUnit.SECONDS));
        assertFalse(blocked.isDone());
        d.supply(5, block(2));
        assertArrayEquals(new byte[] {2}, blocked.get(5, TimeUnit.SECONDS));
    }

    @Test
    void localWholeBlockWriteWinsOverAnOlderArrivingCopy() throws IOException {
        WaitingDevice d = new WaitingDevice(new MemoryBlockDevice("t", 4 * BS, BS), false, null);
        d.write(block(5), BS);
        assertFalse(d.supply(1, block(6)));
        ByteBuffer got = ByteBuffer.allocate(1);
        d.read(got, BS);
        assertEquals(5, got.get(0));
        d.markMissing(1);
        assertTrue(d.isPresent(1), "locally written blocks stay present");
    }

    @Test
    void partialLocalWriteWaitsForTheBlockThenMerges() throws Exception {
        WaitingDevice d = new WaitingDevice(new MemoryBlockDevice("t", 4 * BS, BS), false, null);
        CompletableFuture<Void> w = CompletableFuture.runAsync(() -> {
            try {
                d.write(ByteBuffer.wrap(new byte[] {42}), 3);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        assertThrows(TimeoutException.class, () -> w.get(200, TimeUnit.MILLISECONDS));
        d.supply(0, block(8));
        w.get(5, TimeUnit.SECONDS);
        ByteBuffer got = ByteBuffer.allocate(5);
        d.read(got, 0);
        assertArrayEquals(new byte[] {8, 8, 8, 42, 8}, got.array());
    }

    @Test
    void failureWakesWaitersWithTheErrorAndPresentBlocksStayReadable() throws Exception {
        CompletableFuture<Long> missing = new CompletableFuture<>();
        WaitingDevice d = new WaitingDevice(new MemoryBlockDevice("t", 4 * BS, BS), false, missing::complete);
        d.supply(0, block(1));
        CompletableFuture<byte[]> r = readAsync(d, 2 * BS, 1);
        assertEquals(2L, missing.get(5, TimeUnit.SECONDS), "the read waits for block 2");
        d.fail(new IOException("source lost"));
        ExecutionException e = assertThrows(ExecutionException.class, () -> r.get(5, TimeUnit.SECONDS));
        assertTrue(
                e.getCause().getMessage().contains("source lost"), e.getCause().getMessage());
        IOException later = assertThrows(IOException.class, () -> d.read(ByteBuffer.allocate(1), 3 * BS));
        assertTrue(later.getMessage().contains("could not read block 3"), later.getMessage());
        assertArrayEquals(new byte[] {1}, readAsync(d, 0, 1).get(5, TimeUnit.SECONDS));
    }

    @Test
    void suppliedBlockOfWrongLengthIsRefused() {
        WaitingDevice d = new WaitingDevice(new MemoryBlockDevice("t", 4 * BS - 100, BS), false, null);
        IOException e = assertThrows(IOException.class, () -> d.supply(3, block(1)));
        assertTrue(e.getMessage().contains("the block holds " + (BS - 100)), e.getMessage());
    }
}
