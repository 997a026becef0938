package io.drafter.migration.source;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The source's hand-over steps: each once, in order, and the grant or its withholding, never both. */
class HandOverTest {
    @Test
    void grantsOnceAskedAndNothingIsLeftToSend() {
        HandOver h = new HandOver();
        assertTrue(h.acknowledge());
        assertFalse(h.grantDue(true), "not before TAKEOVER");
        assertTrue(h.request());
        assertTrue(h.requested());
        assertFalse(h.grantDue(false), "not while blocks are left to send");
        assertTrue(h.grantDue(true));
        h.grant();
        assertTrue(h.granted());
        assertFalse(h.grantDue(true), "once only");
    }

    @Test
    void eachStepOnceAndTheAcknowledgementBeforeTheRequest() {
        HandOver twice = new HandOver();
        assertTrue(twice.acknowledge());
        assertFalse(twice.acknowledge(), "a second AUTHORITY_ACK");
        assertTrue(twice.request());
        assertFalse(twice.request(), "a second TAKEOVER");

        HandOver late = new HandOver();
        assertTrue(late.request(), "TAKEOVER may come without an acknowledgement");
        assertFalse(late.acknowledge(), "an AUTHORITY_ACK after TAKEOVER is out of order");
    }

    @Test
    void aWithheldGrantNeverGoes() {
        HandOver h = new HandOver();
        assertTrue(h.withhold());
        h.request();
        assertFalse(h.grantDue(true));
        assertFalse(h.granted());
    }

    @Test
    void tooLateToWithholdOnceGranted() {
        HandOver h = new HandOver();
        h.request();
        h.grant();
        assertFalse(h.withhold());
    }
}
