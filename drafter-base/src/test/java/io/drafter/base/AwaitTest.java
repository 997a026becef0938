package io.drafter.base;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link Await}: returns once its condition holds, fails naming what it waited for. */
@Timeout(10)
class AwaitTest {
    @Test
    void returnsOnceTheConditionHolds() throws Exception {
        AtomicInteger polls = new AtomicInteger();
        Await.until(Duration.ofSeconds(5), "the third poll", () -> polls.incrementAndGet() >= 3);
        assertEquals(3, polls.get());
        assertEquals(
                "3", Await.value(Duration.ofSeconds(5), "a value", () -> polls.incrementAndGet() >= 5 ? "3" : null));
    }

    @Test
    void failsNamingWhatItWaitedForAndTheDetail() {
        AssertionError e = assertThrows(
                AssertionError.class,
                () -> Await.until(Duration.ofMillis(50), "a port to open", () -> false, () -> "last seen: closed"));
        assertEquals("waited PT0.05S for a port to open; last seen: closed", e.getMessage());
        AssertionError v = assertThrows(
                AssertionError.class, () -> Await.value(Duration.ofMillis(50), "a console line", () -> null));
        assertTrue(v.getMessage().startsWith("waited PT0.05S for a console line"), v.getMessage());
    }
}
