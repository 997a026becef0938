package io.drafter.migration.destination;

import io.drafter.migration.Authority;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.ProtocolException;

/**
 * What a failed migration leaves on the destination: who owns the devices, whether the partial copy is discarded, and
 * the sentence that tells the operator. Before the grant the source stays authoritative and the copy is discarded;
 * after it this side owns the devices and keeps them, unless this side itself gave up with ABORTED ("I did not run
 * it"), which hands the VM back and still keeps the copy. From a serve-only source (a registry) this side owns its
 * copy from {@link DestinationPhase#FETCHING} on, incomplete as it may be, and keeps it.
 *
 * @param consequence appended to the failure's message, from "; "
 * @param authority who owns the devices now
 * @param discard whether the partial copy is discarded ({@link DestinationStorage#discard})
 */
record FailureOutcome(String consequence, Authority authority, boolean discard) {
    /**
     * The outcome of {@code cause} in phase {@code at} (not terminal); {@code askedForGrant}: TAKEOVER was sent;
     * {@code anyDevices}: storage was opened.
     */
    static FailureOutcome of(DestinationPhase at, boolean askedForGrant, boolean anyDevices, Throwable cause) {
        if (at == DestinationPhase.FETCHING) {
            return new FailureOutcome(
                    "; this side runs on an incomplete copy: reads of blocks that did not arrive fail (the copy is"
                            + " kept)",
                    Authority.DESTINATION,
                    false);
        }
        boolean granted = at == DestinationPhase.GRANTED;
        // Only this side's own ABORTED after the grant hands the VM back; any other failure then leaves it here.
        boolean handedBack =
                granted && cause instanceof ProtocolException pe && !pe.fromPeer() && pe.code() == ErrorCode.ABORTED;
        String consequence;
        if (handedBack) {
            consequence = "; the VM did not run here: it goes back to the source (this copy is kept)";
        } else if (granted) {
            consequence = "; the hand-over was granted: this side owns the devices";
        } else if (askedForGrant) {
            consequence = "; the source did not confirm the hand-over; do not run the VM here (the partial copy is"
                    + " discarded; the source resumes the VM by itself unless its GRANT was already on the way)";
        } else if (!anyDevices) {
            consequence = "; the source stays authoritative";
        } else {
            consequence = "; the source stays authoritative and the partial copy is discarded";
        }
        return new FailureOutcome(
                consequence, granted && !handedBack ? Authority.DESTINATION : Authority.SOURCE, !granted);
    }
}
