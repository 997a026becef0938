package io.drafter.migration.source;

/** The phases of the source's state machine, in order; {@link #FAILED} and {@link #RESUMED} end it early. */
public enum SourcePhase {
    HANDSHAKE,
    FULL_COPY,
    DIRTY_ROUNDS,
    SUSPENDING,
    FINAL_SYNC,
    AUTHORITY_SENT,
    POST_COPY,
    COMPLETED,
    FAILED,
    /** The source took authority back after a failure ({@link MigrationSource#resumeSource()}). */
    RESUMED;

    /** Whether the machine stops here (only {@link #FAILED} may still move to {@link #RESUMED}). */
    public boolean terminal() {
        return this == COMPLETED || this == FAILED || this == RESUMED;
    }
}
