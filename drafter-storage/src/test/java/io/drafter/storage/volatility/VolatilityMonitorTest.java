package io.drafter.storage.volatility;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class VolatilityMonitorTest {
    @Test
    void ordersLeastWrittenFirstAndForgetsWritesOutsideTheWindow() throws IOException {
        AtomicLong now = new AtomicLong(1_000_000_000L);
        VolatilityMonitor v =
                new VolatilityMonitor(new MemoryBlockDevice("t", 4 * 512, 512), Duration.ofSeconds(4), now::get);
        for (int i = 0; i < 5; i++) {
            v.write(ByteBuffer.allocate(1), 0); // block 0: hot
        }
        v.write(ByteBuffer.allocate(1), 2 * 512); // block 2: warm
        v.write(ByteBuffer.allocate(1), 2 * 512);
        v.write(ByteBuffer.allocate(1), 3 * 512); // block 3: one write
        assertEquals(5, v.writesInWindow(0));
        assertArrayEquals(new long[] {1, 3, 2, 0}, v.leastVolatileFirst());
        now.addAndGet(Duration.ofSeconds(3).toNanos());
        v.write(ByteBuffer.allocate(1), 512); // block 1 now, others 3 s ago: still inside the window
        assertArrayEquals(new long[] {1, 3, 2, 0}, v.leastVolatileFirst());
        now.addAndGet(Duration.ofSeconds(2).toNanos()); // the first writes left the window
        assertEquals(0, v.writesInWindow(0));
        assertArrayEquals(new long[] {0, 2, 3, 1}, v.leastVolatileFirst());
        v.close();
    }
}
