package io.drafter.migration.destination;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.drafter.migration.internal.PhaseMachine;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The destination's phase table: its path, and illegal transitions refused as on the source. */
class DestinationPhasesTest {
    @Test
    void followsThePathOfALiveMigration() {
        PhaseMachine<DestinationPhase> m = new PhaseMachine<>(
                "destination", MigrationDestination.PHASES, DestinationPhase.HANDSHAKE, System::nanoTime);
        for (DestinationPhase p : List.of(
                DestinationPhase.RECEIVING,
                DestinationPhase.AUTHORITATIVE,
                DestinationPhase.GRANTED,
                DestinationPhase.COMPLETED)) {
            assertEquals(p, m.transition(p).to());
        }
        assertNull(m.transition(DestinationPhase.FAILED), "a completed migration does not fail any more");
    }

    @Test
    void refusesIllegalTransitions() {
        PhaseMachine<DestinationPhase> m = new PhaseMachine<>(
                "destination", MigrationDestination.PHASES, DestinationPhase.HANDSHAKE, System::nanoTime);
        m.transition(DestinationPhase.RECEIVING);
        IllegalStateException e =
                assertThrows(IllegalStateException.class, () -> m.transition(DestinationPhase.GRANTED));
        assertEquals("destination state machine: no transition RECEIVING -> GRANTED", e.getMessage());
        m.transition(DestinationPhase.FAILED);
        assertNull(m.transition(DestinationPhase.AUTHORITATIVE), "after a failure: the race was lost");
    }
}
