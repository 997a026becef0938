package io.drafter.migration.source;

/**
 * The source's side of the hand-over once AUTHORITY is out: the destination acknowledges it (AUTHORITY_ACK), asks for
 * the devices (TAKEOVER), and the source grants them (GRANT) once nothing is left to send, unless its caller withheld
 * the grant first ({@link MigrationSource#abortBeforeGrant()}). Each step happens at most once; a step out of order is
 * the destination's protocol error, which the engine reports.
 *
 * <p>Pure; <b>not</b> thread-safe: the source's agent thread owns it. The GRANT itself is decided against failures and
 * {@link MigrationSource#abortBeforeGrant()} from other threads by one compare-and-set on the {@link SourceState}, so
 * the grant and the withholding never both happen; {@link #withhold} is the same rule for a single thread.
 */
final class HandOver {
    private boolean acknowledged;
    private boolean requested;
    private boolean granted;
    private boolean withheld;

    /**
     * AUTHORITY_ACK arrived.
     *
     * @return {@code false} if it is out of order: a second one, or one after TAKEOVER
     */
    boolean acknowledge() {
        if (acknowledged || requested) {
            return false;
        }
        acknowledged = true;
        return true;
    }

    /**
     * TAKEOVER arrived.
     *
     * @return {@code false} if it is a second one
     */
    boolean request() {
        if (requested) {
            return false;
        }
        requested = true;
        return true;
    }

    /** Whether TAKEOVER arrived. */
    boolean requested() {
        return requested;
    }

    /**
     * Withholds the grant for good.
     *
     * @return {@code false} if it was granted already (too late)
     */
    boolean withhold() {
        if (granted) {
            return false;
        }
        withheld = true;
        return true;
    }

    /**
     * Whether the GRANT goes now: it was asked for, neither granted nor withheld, and {@code nothingLeft} to send ahead
     * of it.
     */
    boolean grantDue(boolean nothingLeft) {
        return requested && !granted && !withheld && nothingLeft;
    }

    /** The GRANT is handed to the writer: from here on the destination may run. */
    void grant() {
        granted = true;
    }

    /** Whether the GRANT was handed to the writer. */
    boolean granted() {
        return granted;
    }
}
