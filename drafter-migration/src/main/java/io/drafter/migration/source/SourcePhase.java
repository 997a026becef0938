package io.drafter.migration.source;

/** The phases of the source's state machine, in order; {@link #FAILED} and {@link #RESUMED} end it early. */
public enum SourcePhase {
    /** HELLO and token proofs (unless a {@link MigrationListener} did them), then the device group. */
    HANDSHAKE,
    /** Every block once, least volatile first; the writers run. */
    FULL_COPY,
    /** Blocks written since the last round, again, until every device converged. */
    DIRTY_ROUNDS,
    /** The {@link SuspendHook} stops the writers. */
    SUSPENDING,
    /** The final dirty lists go out. */
    FINAL_SYNC,
    /**
     * AUTHORITY is queued behind the final dirty lists: the destination prepares while the last blocks stream. The
     * source still owns the devices; it waits for the destination's TAKEOVER.
     */
    AUTHORITY_SENT,
    /**
     * The GRANT is written, behind every block: the destination may run. Authority is uncertain until COMPLETED
     * arrives, and the source never resumes on its own from here.
     */
    GRANTED,
    /** The destination confirmed that it runs; it owns the devices. */
    COMPLETED,
    FAILED,
    /** The source took authority back after a failure ({@link MigrationSource#resumeSource()}). */
    RESUMED;

    /** Whether the machine stops here (only {@link #FAILED} may still move to {@link #RESUMED}). */
    public boolean terminal() {
        return this == COMPLETED || this == FAILED || this == RESUMED;
    }
}
