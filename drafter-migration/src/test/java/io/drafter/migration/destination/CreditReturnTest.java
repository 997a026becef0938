package io.drafter.migration.destination;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** When a destination's applier returns credit to the source. */
class CreditReturnTest {
    @Test
    void returnsAQuarterOfTheWindowAtATimeWhileBusy() {
        CreditReturn c = new CreditReturn(16);
        for (int i = 0; i < 3; i++) {
            c.applied();
            assertEquals(0, c.due(false), "batch not full after " + (i + 1));
        }
        c.applied();
        assertEquals(4, c.due(false));
        assertEquals(0, c.due(false), "returned already");
    }

    @Test
    void returnsWhatIsOwedOnceTheQueueRanEmpty() {
        CreditReturn c = new CreditReturn(16);
        assertEquals(0, c.due(true), "nothing owed");
        c.applied();
        assertEquals(1, c.due(true));
        assertEquals(0, c.due(true));
    }

    @Test
    void aTinyWindowReturnsEveryFrame() {
        CreditReturn c = new CreditReturn(3);
        c.applied();
        assertEquals(1, c.due(false));
    }
}
