package io.drafter.migration;

/** Which side owns the devices (and the VM) as far as this side can tell. */
public enum Authority {
    /** The source: the destination's copy is not to be used. */
    SOURCE,
    /**
     * The GRANT frame left the source but no COMPLETED came back: the destination may or may not run on the devices.
     * Only a caller who knows the destination is stopped (it said ABORTED, or an operator checked) may hand authority
     * back to the source.
     */
    UNCERTAIN,
    /** The destination. */
    DESTINATION
}
