package io.drafter.migration.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Drafter's convergence rules for one device's dirty rounds, on a hand-driven clock. */
class RoundPolicyTest {
    static final long MS = 1_000_000L;

    /** Runs one round of {@code dirtyBlocks} at {@code nowNs} and reports whether the device became ready. */
    static boolean round(RoundPolicy p, long nowNs, int dirtyBlocks) {
        assertTrue(p.due(nowNs), "a round is due at " + nowNs);
        p.startRound(nowNs, dirtyBlocks);
        return p.roundSent();
    }

    @Test
    void withoutRoundsADeviceIsReadyAtOnce() {
        RoundPolicy p = new RoundPolicy(DirtyPolicy.NO_ROUNDS);
        assertTrue(p.begin());
        assertTrue(p.ready());
        assertEquals(0, p.cycles());
        assertFalse(p.due(0), "a ready device runs no more rounds");
        assertEquals(1, p.finalRound());
    }

    @Test
    void readyAfterMoreThanMinCyclesSmallRoundsInARow() {
        RoundPolicy p = new RoundPolicy(new DirtyPolicy(10, 2, 100, Duration.ZERO));
        assertFalse(p.begin());
        assertFalse(round(p, 0, 9), "small 1");
        assertFalse(round(p, 0, 9), "small 2");
        assertTrue(round(p, 0, 9), "small 3: more than minCycles in a row");
        assertTrue(p.ready());
        assertEquals(3, p.cycles());
    }

    @Test
    void aLargeRoundStartsTheCountAgain() {
        RoundPolicy p = new RoundPolicy(new DirtyPolicy(10, 1, 100, Duration.ZERO));
        p.begin();
        assertFalse(round(p, 0, 0));
        assertFalse(round(p, 0, 10), "maxDirtyBlocks itself is not small");
        assertFalse(round(p, 0, 3));
        assertTrue(round(p, 0, 3));
        assertEquals(4, p.cycles());
    }

    @Test
    void readyAfterMaxCyclesHoweverDirty() {
        RoundPolicy p = new RoundPolicy(new DirtyPolicy(10, 0, 3, Duration.ZERO));
        p.begin();
        assertFalse(round(p, 0, 500));
        assertFalse(round(p, 0, 500));
        assertTrue(round(p, 0, 500));
        assertEquals(3, p.cycles());
    }

    @Test
    void theDefaultsNeedSixQuietRounds() {
        RoundPolicy p = new RoundPolicy(DirtyPolicy.DRAFTER_DEFAULTS);
        p.begin();
        long now = 0;
        for (int i = 1; i <= 5; i++) {
            assertFalse(round(p, now, 199), "quiet round " + i);
            now += 500 * MS;
        }
        assertTrue(round(p, now, 199));
    }

    @Test
    void aRoundIsDueOnceTheLastWasSentAndTheThrottlePassed() {
        RoundPolicy p = new RoundPolicy(new DirtyPolicy(10, 5, 100, Duration.ofMillis(500)));
        p.begin();
        assertTrue(p.due(1000 * MS), "the first round is due at once");
        assertEquals(1, p.startRound(1000 * MS, 50));
        assertTrue(p.roundOutstanding());
        assertFalse(p.due(2000 * MS), "not before the round was sent");
        p.roundSent();
        assertFalse(p.roundOutstanding());
        assertEquals(1500 * MS, p.nextDueNs());
        assertFalse(p.due(1499 * MS), "not within the throttle");
        assertTrue(p.due(1500 * MS));
        assertEquals(2, p.startRound(1500 * MS, 50));
        p.roundSent();
        assertEquals(3, p.finalRound(), "the final round counts on");
    }
}
