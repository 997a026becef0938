package io.drafter.migration.source;

/**
 * What the caller does to stop and restart the writers of the source devices (pause the VM and flush its memory
 * into the memory device, and the reverse).
 *
 * <p><b>Note:</b> {@link #suspend()} is called on a thread of its own; it may block for as long as it needs (the
 * engine's agent keeps answering the destination and keeps the connection alive meanwhile). {@link #resume()} is
 * called on the agent thread after a failure, on a thread of its own after the GRANT of a copy, or on the caller's
 * thread ({@link MigrationSource#resumeSource()}).
 */
public interface SuspendHook {
    /**
     * Stops every writer of the devices and pushes buffered data into them. After it returns, no write may reach a
     * device until {@link #resume()}; the engine then takes the final dirty set.
     */
    void suspend() throws Exception;

    /**
     * Restarts the writers at the source. Called by the engine when a migration fails after {@link #suspend()} while
     * the source is still authoritative, and by {@link MigrationSource#resumeSource()}. Default: nothing.
     */
    default void resume() throws Exception {}
}
