package io.drafter.fuzz;

/**
 * An input crashed a fuzz target: it threw what the target does not document, broke an invariant the target checks,
 * or allocated beyond its bound. An {@link Error} so that it is never taken for a refusal.
 */
public final class FuzzCrash extends AssertionError {
    public FuzzCrash(String message) {
        super(message);
    }

    public FuzzCrash(String message, Throwable cause) {
        super(message, cause);
    }
}
