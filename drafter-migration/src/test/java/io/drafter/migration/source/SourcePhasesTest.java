package io.drafter.migration.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.drafter.migration.internal.PhaseMachine;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The source's phase table: its path, and illegal transitions refused as on the destination. */
class SourcePhasesTest {
    @Test
    void followsThePathOfALiveMigration() {
        PhaseMachine<SourcePhase> m =
                new PhaseMachine<>("source", MigrationSource.PHASES, SourcePhase.HANDSHAKE, System::nanoTime);
        for (SourcePhase p : List.of(
                SourcePhase.FULL_COPY,
                SourcePhase.DIRTY_ROUNDS,
                SourcePhase.SUSPENDING,
                SourcePhase.FINAL_SYNC,
                SourcePhase.AUTHORITY_SENT,
                SourcePhase.GRANTED,
                SourcePhase.COMPLETED)) {
            assertEquals(p, m.transition(p).to());
        }
        assertNull(m.transition(SourcePhase.FAILED), "a completed migration does not fail any more");
    }

    @Test
    void refusesIllegalTransitionsAndResumesOnlyAfterAFailure() {
        PhaseMachine<SourcePhase> m =
                new PhaseMachine<>("source", MigrationSource.PHASES, SourcePhase.HANDSHAKE, System::nanoTime);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.transition(SourcePhase.GRANTED));
        assertEquals("source state machine: no transition HANDSHAKE -> GRANTED", e.getMessage());
        assertThrows(IllegalStateException.class, () -> m.transition(SourcePhase.RESUMED));
        m.transition(SourcePhase.FAILED);
        assertEquals(SourcePhase.RESUMED, m.transition(SourcePhase.RESUMED).to());
    }
}
