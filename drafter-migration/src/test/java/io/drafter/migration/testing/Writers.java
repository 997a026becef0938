package io.drafter.migration.testing;

import io.drafter.base.testing.Await;
import io.drafter.storage.BlockDevice;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Concurrent random writers on source devices, standing in for a running VM; {@link #stop()} is the "pause" of a
 * suspend hook (it returns once no write is in progress).
 */
public final class Writers {
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLong writes = new AtomicLong();
    private final AtomicReference<Throwable> error = new AtomicReference<>();
    private volatile boolean running = true;

    /** One writer thread per device, each writing random ranges with a small pause between writes. */
    public Writers(List<? extends BlockDevice> devices, long seed, int pauseMicros) {
        int i = 0;
        for (BlockDevice d : devices) {
            long s = seed + i++;
            threads.add(Thread.ofPlatform().name("test-writer-" + i).daemon().start(() -> run(d, s, pauseMicros)));
        }
    }

    private void run(BlockDevice d, long seed, int pauseMicros) {
        Random r = new Random(seed);
        byte[] buf = new byte[3 * d.blockSizeBytes()];
        try {
            while (running) {
                int len = 1 + r.nextInt(buf.length);
                long off = (long) (r.nextDouble() * Math.max(1, d.sizeBytes() - len));
                len = (int) Math.min(len, d.sizeBytes() - off);
                r.nextBytes(buf);
                d.write(ByteBuffer.wrap(buf, 0, len), off);
                writes.incrementAndGet();
                if (pauseMicros > 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(pauseMicros * 1000L);
                }
            }
        } catch (Throwable t) {
            error.set(t);
        }
    }

    /** Stops every writer and waits until none is inside a write. */
    public void stop() throws InterruptedException {
        running = false;
        for (Thread t : threads) {
            t.join();
        }
        if (error.get() != null) {
            throw new IllegalStateException("a writer failed", error.get());
        }
    }

    public long writes() {
        return writes.get();
    }

    /** Waits until a writer writes again after this call (the VM still runs); fails after {@code timeout}. */
    public void awaitMoreWrites(Duration timeout) throws InterruptedException {
        long before = writes.get();
        Await.until(timeout, "a write after the first " + before, () -> writes.get() > before);
    }
}
