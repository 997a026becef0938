package io.drafter.migration.destination;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.Authority;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.ProtocolException;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** Who owns the devices after a destination failed, and whether the partial copy goes. */
class FailureOutcomeTest {
    static final ProtocolException OWN_ABORT = new ProtocolException(ErrorCode.ABORTED, "aborted here");
    static final IOException LINK = new IOException("connection reset");

    @Test
    void beforeTheGrantTheSourceKeepsItAndTheCopyIsDiscarded() {
        FailureOutcome o = FailureOutcome.of(DestinationPhase.RECEIVING, false, true, LINK);
        assertEquals(Authority.SOURCE, o.authority());
        assertTrue(o.discard());
        assertEquals("; the source stays authoritative and the partial copy is discarded", o.consequence());
    }

    @Test
    void withoutDevicesThereIsNoCopyToMention() {
        FailureOutcome o = FailureOutcome.of(DestinationPhase.HANDSHAKE, false, false, LINK);
        assertEquals("; the source stays authoritative", o.consequence());
        assertEquals(Authority.SOURCE, o.authority());
    }

    @Test
    void afterAskingButBeforeTheGrantNothingMayRunHere() {
        FailureOutcome o = FailureOutcome.of(DestinationPhase.AUTHORITATIVE, true, true, OWN_ABORT);
        assertEquals(Authority.SOURCE, o.authority());
        assertTrue(o.discard());
        assertTrue(o.consequence().startsWith("; the source did not confirm the hand-over; do not run the VM here"));
    }

    @Test
    void afterTheGrantThisSideOwnsTheDevicesAndKeepsThem() {
        FailureOutcome o = FailureOutcome.of(DestinationPhase.GRANTED, true, true, LINK);
        assertEquals(Authority.DESTINATION, o.authority());
        assertFalse(o.discard());
        assertEquals("; the hand-over was granted: this side owns the devices", o.consequence());
    }

    @Test
    void onlyThisSidesOwnAbortAfterTheGrantHandsTheVmBack() {
        FailureOutcome own = FailureOutcome.of(DestinationPhase.GRANTED, true, true, OWN_ABORT);
        assertEquals(Authority.SOURCE, own.authority());
        assertFalse(own.discard(), "the copy is kept");

        ProtocolException peers = new ProtocolException(ErrorCode.ABORTED, "aborted there", true);
        assertEquals(
                Authority.DESTINATION,
                FailureOutcome.of(DestinationPhase.GRANTED, true, true, peers).authority());
    }
}
