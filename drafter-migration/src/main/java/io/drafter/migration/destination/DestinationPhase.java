package io.drafter.migration.destination;

/** The phases of the destination's state machine. */
public enum DestinationPhase {
    HANDSHAKE,
    /** Pre-copy: blocks arrive; the source owns the devices. */
    RECEIVING,
    /** Authority arrived: the devices are this side's; missing blocks are fetched on demand (post-copy). */
    AUTHORITATIVE,
    /** Every block is here; the source was told. */
    COMPLETED,
    FAILED;

    public boolean terminal() {
        return this == COMPLETED || this == FAILED;
    }
}
