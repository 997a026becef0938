package io.drafter.storage.freeze;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockDeviceContractTest;
import io.drafter.storage.ForwardingBlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The block-device contract for a thawed device, then what the freeze does to writers. */
@Timeout(30)
class FreezableDeviceTest extends BlockDeviceContractTest {
    @Override
    protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) {
        return new FreezableDevice(new MemoryBlockDevice("test", sizeBytes, blockSizeBytes));
    }

    private static FreezableDevice small() {
        return new FreezableDevice(new MemoryBlockDevice("t", 8 * 4096, 4096));
    }

    /** Starts a write of one byte {@code value} at {@code offset} on a platform thread; its future ends with it. */
    private static CompletableFuture<Integer> writeLater(BlockDevice d, long offset, byte value) {
        CompletableFuture<Integer> f = new CompletableFuture<>();
        Thread.ofPlatform().name("writer").start(() -> {
            try {
                f.complete(d.write(ByteBuffer.wrap(new byte[] {value}), offset));
            } catch (Throwable t) {
                f.completeExceptionally(t);
            }
        });
        return f;
    }

    private static void awaitWaiting(FreezableDevice d, int n) throws InterruptedException {
        Await.until(
                Duration.ofSeconds(10),
                n + " writes held by the freeze",
                () -> d.waitingWrites() >= n,
                () -> d.waitingWrites() + " held");
    }

    private static byte byteAt(BlockDevice d, long offset) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(1);
        d.read(b, offset);
        return b.get(0);
    }

    @Test
    void aFrozenDeviceHoldsWritesUntilThawedAndLetsReadsAndFlushesThrough() throws Exception {
        try (FreezableDevice d = small()) {
            d.write(ByteBuffer.wrap(new byte[] {1}), 0);
            d.freeze();
            assertTrue(d.frozen());
            CompletableFuture<Integer> w = writeLater(d, 0, (byte) 2);
            awaitWaiting(d, 1);
            assertFalse(w.isDone(), "the write waits");
            assertEquals(1, byteAt(d, 0), "nothing of the held write reached the device");
            d.flush();
            d.thaw();
            assertEquals(1, w.get(10, TimeUnit.SECONDS));
            assertEquals(2, byteAt(d, 0));
            assertEquals(1, d.heldWritesTotal());
            assertEquals(0, d.waitingWrites());
            d.freeze(); // idempotent, and again after a thaw
            d.freeze();
            d.thaw();
            d.write(ByteBuffer.wrap(new byte[] {3}), 0);
        }
    }

    @Test
    void freezeReturnsOnlyOnceTheWritesUnderWayHaveLanded() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch proceed = new CountDownLatch(1);
        BlockDevice slow = new ForwardingBlockDevice(new MemoryBlockDevice("slow", 4096, 4096)) {
            @Override
            public int write(ByteBuffer src, long offsetBytes) throws IOException {
                entered.countDown();
                try {
                    proceed.await();
                } catch (InterruptedException e) {
                    throw new InterruptedIOException();
                }
                return super.write(src, offsetBytes);
            }
        };
        try (FreezableDevice d = new FreezableDevice(slow)) {
            CompletableFuture<Integer> w = writeLater(d, 5, (byte) 9);
            assertTrue(entered.await(10, TimeUnit.SECONDS));
            CompletableFuture<Void> frozen = CompletableFuture.runAsync(() -> {
                try {
                    d.freeze();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(50); // a window in which the freeze must not finish: there is no event for "not yet"
            assertFalse(frozen.isDone(), "freeze waits for the write under way");
            proceed.countDown();
            frozen.get(10, TimeUnit.SECONDS);
            assertEquals(1, w.get(10, TimeUnit.SECONDS));
            assertEquals(9, byteAt(d, 5));
        }
    }

    @Test
    void releaseFailsHeldAndLaterWritesWithTheReason() throws Exception {
        FreezableDevice d = small();
        d.freeze();
        CompletableFuture<Integer> w1 = writeLater(d, 0, (byte) 1);
        CompletableFuture<Integer> w2 = writeLater(d, 4096, (byte) 1);
        awaitWaiting(d, 2);
        d.release("the device moved to 10.0.0.2:1337");
        for (CompletableFuture<Integer> w : java.util.List.of(w1, w2)) {
            var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> w.get(10, TimeUnit.SECONDS));
            assertInstanceOf(IOException.class, e.getCause());
            assertTrue(
                    e.getCause().getMessage().contains("moved to 10.0.0.2:1337"),
                    e.getCause().getMessage());
        }
        IOException later = assertThrows(IOException.class, () -> d.write(ByteBuffer.allocate(1), 0));
        assertTrue(later.getMessage().startsWith("could not write 1 bytes at offset 0: "), later.getMessage());
        assertArrayEquals(new byte[2], new byte[] {byteAt(d, 0), byteAt(d, 4096)}, "nothing written");
        d.thaw(); // a thaw after a release lets nothing through any more
        assertThrows(IOException.class, () -> d.write(ByteBuffer.allocate(1), 0));
        d.close();
    }

    @Test
    void closeReleasesHeldWriters() throws Exception {
        FreezableDevice d = small();
        d.freeze();
        CompletableFuture<Integer> w = writeLater(d, 0, (byte) 1);
        awaitWaiting(d, 1);
        d.close();
        var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> w.get(10, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("closed"), e.getCause().getMessage());
    }

    @Test
    void aHeldWriterCanBeInterrupted() throws Exception {
        try (FreezableDevice d = small()) {
            d.freeze();
            CompletableFuture<Throwable> failure = new CompletableFuture<>();
            Thread t = Thread.ofPlatform().start(() -> {
                try {
                    d.write(ByteBuffer.allocate(1), 0);
                    failure.complete(null);
                } catch (Throwable e) {
                    failure.complete(e);
                }
            });
            awaitWaiting(d, 1);
            t.interrupt();
            assertInstanceOf(InterruptedIOException.class, failure.get(10, TimeUnit.SECONDS));
            assertEquals(0, d.waitingWrites());
        }
    }
}
