package io.drafter.migration.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The pick rule of the source's send scheduler, without threads or sockets. */
class SendSchedulerTest {
    static Outgoing.Block data(int device, long block) {
        return new Outgoing.Block(device, block, false);
    }

    static Outgoing.Block needed(int device, long block) {
        return new Outgoing.Block(device, block, true);
    }

    /** Picks until nothing is left (or {@code max}), marking each pick sent. */
    static List<Outgoing.Block> drain(SendScheduler s, int max) {
        List<Outgoing.Block> picks = new ArrayList<>();
        Outgoing.Block b;
        while (picks.size() < max && (b = s.pick()) != null) {
            picks.add(b);
            s.sent(b.device());
        }
        return picks;
    }

    @Test
    void sendsTheFullCopyInTheDevicesOrder() {
        SendScheduler s = new SendScheduler(1);
        s.initialCredit(100);
        s.fullCopy(0, new long[] {2, 0, 1});
        assertEquals(List.of(data(0, 2), data(0, 0), data(0, 1)), drain(s, 10));
        assertTrue(s.drained(0));
        assertTrue(s.idle());
    }

    @Test
    void requestedBlocksJumpTheQueueAndDirtyBlocksComeBeforeTheRestOfTheFullCopy() {
        SendScheduler s = new SendScheduler(1);
        s.initialCredit(100);
        s.fullCopy(0, new long[] {0, 1, 2, 3});
        assertEquals(data(0, 0), s.pick());
        s.dirty(0, new long[] {0});
        assertTrue(s.need(0, 3));
        assertEquals(List.of(needed(0, 3), data(0, 0), data(0, 1), data(0, 2), data(0, 3)), drain(s, 10));
    }

    @Test
    void aBlockIsQueuedOnceHoweverOftenItIsDirtiedOrRequested() {
        SendScheduler s = new SendScheduler(1);
        s.initialCredit(100);
        s.dirty(0, new long[] {5, 6});
        s.dirty(0, new long[] {6, 5, 7});
        assertTrue(s.need(0, 9));
        assertFalse(s.need(0, 9), "asked twice before it left");
        assertEquals(List.of(needed(0, 9), data(0, 5), data(0, 6), data(0, 7)), drain(s, 10));
        assertTrue(s.need(0, 9), "asked again after it left: goes again");
        s.dirty(0, new long[] {5});
        assertEquals(List.of(needed(0, 9), data(0, 5)), drain(s, 10));
    }

    @Test
    void devicesTakeTurns() {
        SendScheduler s = new SendScheduler(3);
        s.initialCredit(100);
        s.fullCopy(0, new long[] {0, 1, 2});
        s.fullCopy(1, new long[] {0});
        s.fullCopy(2, new long[] {0, 1});
        assertEquals(List.of(data(0, 0), data(1, 0), data(2, 0), data(0, 1), data(2, 1), data(0, 2)), drain(s, 10));
    }

    @Test
    void aLowerRankGoesFirstUnlessItCannotAndRequestedBlocksIgnoreRanks() {
        SendScheduler s = new SendScheduler(3);
        s.initialCredit(100);
        s.rank(0, 2);
        s.rank(1, 0);
        s.rank(2, 1);
        s.fullCopy(0, new long[] {0, 1});
        s.fullCopy(1, new long[] {0, 1});
        s.fullCopy(2, new long[] {0});
        assertTrue(s.need(0, 1));
        assertEquals(List.of(needed(0, 1), data(1, 0), data(1, 1), data(2, 0), data(0, 0), data(0, 1)), drain(s, 10));

        // Rank 0 without credit: rank 1 goes on meanwhile.
        SendScheduler t = new SendScheduler(2);
        t.initialCredit(1);
        t.rank(1, 1);
        t.fullCopy(0, new long[] {0, 1});
        t.fullCopy(1, new long[] {0, 1});
        assertEquals(data(0, 0), t.pick());
        assertEquals(data(1, 0), t.pick(), "rank 0 has no credit left");
        assertNull(t.pick());
    }

    @Test
    void requestedBlocksTakeTurnsApartFromData() {
        SendScheduler s = new SendScheduler(2);
        s.initialCredit(100);
        s.fullCopy(0, new long[] {0, 1});
        s.fullCopy(1, new long[] {0, 1});
        assertEquals(data(0, 0), s.pick());
        s.need(0, 7);
        s.need(1, 7);
        s.need(0, 8);
        assertEquals(
                List.of(needed(0, 7), needed(1, 7), needed(0, 8), data(1, 0), data(0, 1), data(1, 1)), drain(s, 10));
    }

    @Test
    void aDeviceWithoutCreditWaitsAndTheOthersGoOn() {
        SendScheduler s = new SendScheduler(2);
        s.initialCredit(1);
        s.fullCopy(0, new long[] {0, 1, 2});
        s.fullCopy(1, new long[] {0, 1});
        assertEquals(List.of(data(0, 0), data(1, 0)), drain(s, 10));
        assertEquals(0, s.credit(0));
        s.need(0, 2);
        assertNull(s.pick(), "a requested block waits for credit too");
        s.addCredit(1, 5);
        assertEquals(List.of(data(1, 1)), drain(s, 10));
        s.addCredit(0, 2);
        assertEquals(List.of(needed(0, 2), data(0, 1)), drain(s, 10));
        assertFalse(s.idle(), "block 2 of device 0 is still to send");
        s.addCredit(0, 1);
        assertEquals(List.of(data(0, 2)), drain(s, 10));
        assertTrue(s.idle());
    }

    @Test
    void aDeviceIsDrainedOnlyOnceItsPickedBlocksLeft() {
        SendScheduler s = new SendScheduler(2);
        s.initialCredit(10);
        s.fullCopy(0, new long[] {0});
        assertFalse(s.allDrained());
        Outgoing.Block b = s.pick();
        assertFalse(s.drained(0), "in flight");
        assertFalse(s.idle());
        assertTrue(s.drained(1), "a device with nothing to send is drained");
        assertTrue(s.sent(b.device()));
        assertTrue(s.allDrained());
        s.need(1, 0);
        assertTrue(s.drained(1), "requested blocks do not hold up a round");
        assertFalse(s.idle(), "but they hold up the grant");
    }
}
