package io.drafter.migration.destination;

/** The phases of the destination's state machine, in order; {@link #FAILED} ends it early. */
public enum DestinationPhase {
    /** HELLO, token proofs, device group; storage is prepared and opened. */
    HANDSHAKE,
    /** Pre-copy: blocks arrive; the source owns the devices. */
    RECEIVING,
    /**
     * AUTHORITY arrived and every final dirty list is applied: prepare to run (load state; reads of missing blocks are
     * fetched first). The source still owns the devices: nothing may run here yet.
     */
    AUTHORITATIVE,
    /**
     * From a source that never runs what it serves (a registry): this side owns its copy and runs on it while the rest
     * streams in; reads of blocks not here yet are fetched first. The GRANT follows the last block.
     */
    FETCHING,
    /** The source's GRANT arrived behind every block: this side owns the devices and may run. */
    GRANTED,
    /** The source was told that this side runs (COMPLETED). */
    COMPLETED,
    FAILED;

    public boolean terminal() {
        return this == COMPLETED || this == FAILED;
    }
}
