package io.drafter.migration.destination;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The destination's hand-over steps and what comes after AUTHORITY, per option. */
class TakeoverGateTest {
    @Test
    void eachStepOnceAndTheGrantOnlyAfterTheRequest() {
        TakeoverGate g = new TakeoverGate(false, false);
        assertTrue(g.authority());
        assertFalse(g.authority(), "a second AUTHORITY");
        assertFalse(g.grant(), "a GRANT nobody asked for");
        assertTrue(g.ask());
        assertTrue(g.asked());
        assertFalse(g.ask(), "TAKEOVER goes once");
        assertFalse(g.granted());
        assertTrue(g.grant());
        assertTrue(g.granted());
        assertFalse(g.grant(), "a second GRANT");
    }

    @Test
    void withoutExplicitTakeoverTheEngineAsksOnce() {
        TakeoverGate g = new TakeoverGate(false, false);
        assertEquals(TakeoverGate.Step.ASK, g.next(() -> false));
        assertEquals(TakeoverGate.Step.WAIT, g.next(() -> true), "asked already");
    }

    @Test
    void anExplicitCallerPreparesAndAsksItself() {
        TakeoverGate g = new TakeoverGate(true, false);
        assertEquals(TakeoverGate.Step.PREPARE, g.next(() -> false));
        assertFalse(g.asked());
        assertTrue(g.ask(), "takeOver() asks");
    }

    @Test
    void waitingForAllBlocksHoldsEitherStepBack() {
        TakeoverGate engine = new TakeoverGate(false, true);
        assertEquals(TakeoverGate.Step.WAIT, engine.next(() -> false));
        assertFalse(engine.asked());
        assertEquals(TakeoverGate.Step.ASK, engine.next(() -> true));

        TakeoverGate explicit = new TakeoverGate(true, true);
        assertEquals(TakeoverGate.Step.WAIT, explicit.next(() -> false));
        assertEquals(TakeoverGate.Step.PREPARE, explicit.next(() -> true));
    }

    @Test
    void theBlocksAreCountedOnlyWhenItMatters() {
        TakeoverGate g = new TakeoverGate(false, false);
        assertEquals(TakeoverGate.Step.ASK, g.next(() -> {
            throw new AssertionError("not asked without waitForAllBlocks");
        }));
    }
}
