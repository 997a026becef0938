package io.drafter.migration;

/** Which side owns the devices (and the VM) as far as this side can tell. */
public enum Authority {
    /** The source: the destination's copy is not to be used. */
    SOURCE,
    /**
     * The AUTHORITY frame left the source but no acknowledgement came back: the destination may or may not own the
     * devices. Only an operator who knows the destination is stopped may hand authority back to the source.
     */
    UNCERTAIN,
    /** The destination. */
    DESTINATION
}
