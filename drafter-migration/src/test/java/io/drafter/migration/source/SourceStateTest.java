package io.drafter.migration.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.Authority;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The state other threads share with the source's agent: its transitions, and the GRANT against a failure. */
@Timeout(30)
class SourceStateTest {
    static SourceState at(SourcePhase... path) {
        SourceState s = SourceState.start(0);
        long t = 0;
        for (SourcePhase p : path) {
            s = s.to(p, t += 10);
        }
        return s;
    }

    @Test
    void movesAlongThePathAndCountsTheTimeInEachPhase() {
        SourceState s = SourceState.start(100).to(SourcePhase.FULL_COPY, 130).to(SourcePhase.DIRTY_ROUNDS, 200);
        assertEquals(SourcePhase.DIRTY_ROUNDS, s.phase());
        assertEquals(Authority.SOURCE, s.authority());
        assertEquals(Duration.ofNanos(30), s.phaseTimes().get(SourcePhase.HANDSHAKE));
        assertEquals(Duration.ofNanos(70), s.phaseTimes().get(SourcePhase.FULL_COPY));
        assertNull(s.phaseTimes().get(SourcePhase.DIRTY_ROUNDS), "only phases left count");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.to(SourcePhase.GRANTED, 300));
        assertEquals("source state machine: no transition DIRTY_ROUNDS -> GRANTED", e.getMessage());
    }

    @Test
    void theGrantMovesAuthorityExceptForACopy() {
        SourceState sent = at(SourcePhase.AUTHORITY_SENT);
        SourceState granted = sent.granting(false, 100);
        assertEquals(SourcePhase.GRANTED, granted.phase());
        assertEquals(Authority.UNCERTAIN, granted.authority());
        assertTrue(granted.granted());
        assertEquals(Authority.DESTINATION, granted.completing(false, 200).authority());
        SourceState copy = sent.granting(true, 100);
        assertEquals(Authority.SOURCE, copy.authority());
        assertEquals(Authority.SOURCE, copy.completing(true, 200).authority(), "a copy stays the source's");
        assertNull(at(SourcePhase.FULL_COPY).granting(false, 100), "no GRANT before AUTHORITY");
        assertNull(sent.completing(false, 100), "no COMPLETED before the GRANT");
    }

    @Test
    void aFailureKeepsAuthorityAndGrantAndEndsTheSession() {
        SourceState failedBefore = at(SourcePhase.AUTHORITY_SENT).failing(false, 100);
        assertEquals(SourcePhase.FAILED, failedBefore.phase());
        assertEquals(Authority.SOURCE, failedBefore.authority());
        assertFalse(failedBefore.granted());
        assertNull(failedBefore.granting(false, 200), "a failed session never grants");
        assertNull(failedBefore.failing(false, 200), "a second failure changes nothing");

        SourceState failedAfter =
                at(SourcePhase.AUTHORITY_SENT).granting(false, 50).failing(false, 100);
        assertEquals(Authority.UNCERTAIN, failedAfter.authority());
        assertTrue(failedAfter.granted());
        assertNull(
                at(SourcePhase.AUTHORITY_SENT).granting(false, 50).failing(true, 100),
                "an abort before the grant comes too late");

        SourceState resumed = failedAfter.resuming(300);
        assertEquals(SourcePhase.RESUMED, resumed.phase());
        assertEquals(Authority.SOURCE, resumed.authority());
        assertNull(resumed.resuming(400));
        assertNull(resumed.to(SourcePhase.FAILED, 400), "a lost race, not an error");
        assertNull(at(SourcePhase.FULL_COPY).resuming(100), "only after a failure");
    }

    @Test
    void swapAppliesTheFirstTransitionThatStillHolds() {
        AtomicReference<SourceState> cell = new AtomicReference<>(at(SourcePhase.AUTHORITY_SENT));
        SourceState.Change c = SourceState.swap(cell, s -> s.failing(true, 100));
        assertEquals(SourcePhase.AUTHORITY_SENT, c.from().phase());
        assertEquals(SourcePhase.FAILED, c.to().phase());
        assertEquals(Duration.ofNanos(90), c.timeInFrom(), "in AUTHORITY_SENT from 10 to 100");
        assertNull(SourceState.swap(cell, s -> s.granting(false, 200)));
        assertEquals(SourcePhase.FAILED, cell.get().phase());
    }

    /** Many races of the agent's GRANT against an abort before the grant: exactly one of them wins each time. */
    @Test
    void theGrantAndAnAbortBeforeItNeverBothHappen() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            int grants = 0;
            int aborts = 0;
            for (int i = 0; i < 2_000; i++) {
                AtomicReference<SourceState> cell = new AtomicReference<>(at(SourcePhase.AUTHORITY_SENT));
                CountDownLatch go = new CountDownLatch(1);
                Future<SourceState.Change> grant = pool.submit(() -> {
                    go.await();
                    return SourceState.swap(cell, s -> s.granting(false, System.nanoTime()));
                });
                Future<SourceState.Change> abort = pool.submit(() -> {
                    go.await();
                    return SourceState.swap(cell, s -> s.failing(true, System.nanoTime()));
                });
                go.countDown();
                boolean granted = grant.get(5, TimeUnit.SECONDS) != null;
                boolean aborted = abort.get(5, TimeUnit.SECONDS) != null;
                assertNotEquals(granted, aborted, "exactly one wins");
                assertEquals(granted, cell.get().granted());
                assertEquals(
                        granted ? Authority.UNCERTAIN : Authority.SOURCE,
                        cell.get().authority());
                grants += granted ? 1 : 0;
                aborts += aborted ? 1 : 0;
            }
            assertEquals(2_000, grants + aborts);
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(5, TimeUnit.SECONDS));
        }
    }
}
