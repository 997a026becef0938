package io.drafter.migration.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The agent's idle strategy: spin, yield, then park until the deadline or an unpark; work starts it over. */
@Timeout(30)
class BackoffIdleTest {
    @Test
    void spinsThenYieldsThenParksAndStartsOverAfterWork() {
        BackoffIdle idle = new BackoffIdle(2, 1);
        long later = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        assertEquals(BackoffIdle.Action.SPIN, idle.idle(later));
        assertEquals(BackoffIdle.Action.SPIN, idle.idle(later));
        assertEquals(BackoffIdle.Action.YIELD, idle.idle(later));
        assertEquals(BackoffIdle.Action.PARK, idle.idle(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2)));
        idle.reset();
        assertEquals(BackoffIdle.Action.SPIN, idle.idle(later));
    }

    @Test
    void aPassedDeadlineDoesNotPark() {
        BackoffIdle idle = new BackoffIdle(0, 0);
        assertEquals(BackoffIdle.Action.NONE, idle.idle(System.nanoTime() - 1));
    }

    @Test
    void parksAtMostTheCap() {
        BackoffIdle idle = new BackoffIdle(0, 0);
        long start = System.nanoTime();
        assertEquals(BackoffIdle.Action.PARK, idle.idle(start + TimeUnit.SECONDS.toNanos(60)));
        // Spurious wake-ups may end it earlier; never later than the cap (plus scheduling slack).
        assertTrue(System.nanoTime() - start < BackoffIdle.MAX_PARK_NS + TimeUnit.SECONDS.toNanos(5));
    }

    @Test
    void anUnparkEndsThePark() throws Exception {
        BackoffIdle idle = new BackoffIdle(0, 0);
        CompletableFuture<Long> parkedNs = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            long start = System.nanoTime();
            // Each park is capped; an unpark (or the permit of one that came first) ends one at once.
            idle.idle(start + TimeUnit.SECONDS.toNanos(60));
            parkedNs.complete(System.nanoTime() - start);
        });
        LockSupport.unpark(t);
        long ns = parkedNs.get(5, TimeUnit.SECONDS);
        assertTrue(ns < TimeUnit.SECONDS.toNanos(5), "returned after " + ns + " ns");
        t.join(5_000);
    }

    @Test
    void refusesNegativeCounts() {
        assertThrows(IllegalArgumentException.class, () -> new BackoffIdle(-1, 0));
    }
}
