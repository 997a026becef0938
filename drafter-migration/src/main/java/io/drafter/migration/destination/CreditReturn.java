package io.drafter.migration.destination;

/**
 * The credit one device's applier owes the source: one per data frame it applied (BLOCK or ZERO), returned in batches
 * of a quarter of the window, or all that is owed once its queue ran empty, so a source that waits for credit never
 * waits on a batch that is not filled.
 *
 * <p>Pure; <b>not</b> thread-safe: one per applier thread.
 */
final class CreditReturn {
    private final long batch;
    private int owed;

    /** For a device whose source may have {@code window} frames outstanding. */
    CreditReturn(int window) {
        this.batch = Math.max(1, window / 4);
    }

    /** A data frame was applied: its credit is owed. */
    void applied() {
        owed++;
    }

    /**
     * The frames to return now (a CREDIT frame), or 0.
     *
     * @param idle whether the applier's queue is empty
     */
    int due(boolean idle) {
        if (owed >= batch || (idle && owed > 0)) {
            int n = owed;
            owed = 0;
            return n;
        }
        return 0;
    }
}
