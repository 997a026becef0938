package io.drafter.migration.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The phase machine alone, on a toy enum and a hand-driven clock. */
class PhaseMachineTest {
    enum Toy {
        START,
        MIDDLE,
        DONE,
        FAILED,
        RECOVERED;

        boolean terminal() {
            return this == DONE || this == FAILED || this == RECOVERED;
        }
    }

    static final PhaseMachine.Table<Toy> TABLE = PhaseMachine.table(Toy.class, Toy.FAILED, Toy::terminal)
            .path(Toy.START, Toy.MIDDLE, Toy.DONE)
            .path(Toy.FAILED, Toy.RECOVERED);

    long nowNs;

    PhaseMachine<Toy> machine() {
        return new PhaseMachine<>("toy", TABLE, Toy.START, () -> nowNs);
    }

    @Test
    void walksItsPathAndMeasuresEachPhase() {
        PhaseMachine<Toy> m = machine();
        nowNs = 5;
        PhaseMachine.Transition<Toy> t = m.transition(Toy.MIDDLE);
        assertEquals(new PhaseMachine.Transition<>(Toy.START, Toy.MIDDLE, Duration.ofNanos(5)), t);
        assertFalse(m.ended());
        nowNs = 12;
        m.transition(Toy.DONE);
        assertEquals(Toy.DONE, m.phase());
        assertTrue(m.ended());
        assertEquals(Map.of(Toy.START, Duration.ofNanos(5), Toy.MIDDLE, Duration.ofNanos(7)), m.phaseTimes());
    }

    @Test
    void refusesATransitionItsTableDoesNotHave() {
        PhaseMachine<Toy> m = machine();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.transition(Toy.DONE));
        assertEquals("toy state machine: no transition START -> DONE", e.getMessage());
        assertEquals(Toy.START, m.phase(), "a refused transition changes nothing");
        assertThrows(IllegalStateException.class, () -> m.transition(Toy.START));
    }

    @Test
    void failsFromEveryPhaseThatHasNotEnded() {
        for (Toy from : new Toy[] {Toy.START, Toy.MIDDLE}) {
            PhaseMachine<Toy> m = machine();
            if (from == Toy.MIDDLE) {
                m.transition(Toy.MIDDLE);
            }
            assertEquals(from, m.transition(Toy.FAILED).from());
            assertEquals(Toy.FAILED, m.phase());
        }
    }

    @Test
    void aTransitionAfterTheEndIsALostRaceNotAnError() {
        PhaseMachine<Toy> m = machine();
        m.transition(Toy.FAILED);
        assertNull(m.transition(Toy.FAILED), "failing twice: the first failure won");
        assertNull(m.transition(Toy.MIDDLE), "the session ended on another thread");
        assertEquals(Toy.FAILED, m.phase());

        PhaseMachine<Toy> done = machine();
        done.transition(Toy.MIDDLE);
        done.transition(Toy.DONE);
        assertNull(done.transition(Toy.FAILED), "a completed session does not fail any more");
        assertEquals(Toy.DONE, done.phase());
    }

    @Test
    void anEndedPhaseMayHaveAWayOn() {
        PhaseMachine<Toy> m = machine();
        m.transition(Toy.FAILED);
        assertEquals(Toy.RECOVERED, m.transition(Toy.RECOVERED).to());
        assertTrue(m.ended());
    }

    @Test
    void aPhaseEnteredTwiceCountsBothStays() {
        PhaseMachine.Table<Toy> loop =
                PhaseMachine.table(Toy.class, Toy.FAILED, Toy::terminal).path(Toy.START, Toy.MIDDLE, Toy.START);
        PhaseMachine<Toy> m = new PhaseMachine<>("toy", loop, Toy.START, () -> nowNs);
        nowNs = 3;
        m.transition(Toy.MIDDLE);
        nowNs = 4;
        m.transition(Toy.START);
        nowNs = 10;
        m.transition(Toy.MIDDLE);
        assertEquals(Duration.ofNanos(9), m.phaseTimes().get(Toy.START));
    }
}
