package io.drafter.migration.destination;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The agent's backoff: spins, yields, parks; work starts it over. */
@Timeout(10)
class IdleStrategyTest {
    @Test
    void spinsThenYieldsThenParksUntilTheDeadline() {
        IdleStrategy idle = new IdleStrategy(2, 1);
        long past = System.nanoTime() - 1;
        assertEquals(IdleStrategy.Step.SPIN, idle.idle(past));
        assertEquals(IdleStrategy.Step.SPIN, idle.idle(past));
        assertEquals(IdleStrategy.Step.YIELD, idle.idle(past));
        assertEquals(IdleStrategy.Step.PARK, idle.idle(past));
        assertEquals(IdleStrategy.Step.PARK, idle.idle(past));
        idle.reset();
        assertEquals(IdleStrategy.Step.SPIN, idle.idle(past));
    }

    @Test
    void withoutSpinsOrYieldsItParksAtOnce() {
        assertEquals(IdleStrategy.Step.PARK, new IdleStrategy(0, 0).idle(System.nanoTime() - 1));
    }

    @Test
    void anUnparkEndsAParkLongBeforeItsDeadline() throws InterruptedException {
        IdleStrategy idle = new IdleStrategy(0, 0);
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch woke = new CountDownLatch(1);
        Thread t = Thread.ofPlatform().name("idle-test").start(() -> {
            parked.countDown();
            // Spurious returns are allowed: park until the test's unpark arrived.
            while (woke.getCount() > 0) {
                idle.idle(System.nanoTime() + TimeUnit.MINUTES.toNanos(10));
            }
        });
        parked.await();
        while (t.isAlive()) {
            woke.countDown();
            LockSupport.unpark(t);
            t.join(100);
        }
    }

    @Test
    void refusesNegativeCounts() {
        assertThrows(IllegalArgumentException.class, () -> new IdleStrategy(-1, 0));
    }
}
