package io.drafter.migration;

import java.io.IOException;

/**
 * A migration that failed, with the side that is authoritative afterwards.
 *
 * <p>The message reads {@code could not migrate <what>: <detail>}; the cause is the first error that stopped it.
 */
public final class MigrationException extends IOException {
    private final String phase;
    private final Authority authority;

    public MigrationException(String message, String phase, Authority authority, Throwable cause) {
        super(message, cause);
        this.phase = phase;
        this.authority = authority;
    }

    /** The phase that failed. */
    public String phase() {
        return phase;
    }

    /** Who owns the devices after the failure. */
    public Authority authority() {
        return authority;
    }
}
