package io.drafter.migration.source;

import java.util.concurrent.CompletableFuture;

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
     * What can be done while the writers still run, right before {@link #suspend()}: push what they buffered into the
     * devices (for a VM: its agent's {@code BeforeSuspend}, then guest RAM written back). Called on a thread of its
     * own; returning {@code false}, {@link #suspend()} follows at once on that thread. Returning {@code true} asks for
     * one more round first: the engine sends what
     * changed so far with the writers running, and calls {@link #suspend()} once that round is out, so that the final
     * set, sent while the writers are stopped, holds only what changed during the round. Should {@link #suspend()}
     * then not come (the migration failed), {@link #resume()} undoes this. Default: nothing, {@code false}.
     */
    default boolean prepare() throws Exception {
        return false;
    }

    /**
     * Stops every writer of the devices and pushes buffered data into them. After it returns, no write may reach a
     * device until {@link #resume()}; the engine then takes the final dirty set.
     */
    void suspend() throws Exception;

    /**
     * What {@link #suspend()} left to finish while the engine already sends the final set (for a VM: making the
     * suspended devices durable). Called on the agent thread right after {@link #suspend()} returned; must not block.
     * The GRANT waits for the future; its failure fails the migration before the GRANT, and {@link #resume()} follows.
     * Default: nothing left.
     */
    default CompletableFuture<Void> settling() {
        return CompletableFuture.completedFuture(null);
    }

    /**
     * Restarts the writers at the source. Called by the engine when a migration fails after {@link #suspend()} while
     * the source is still authoritative, and by {@link MigrationSource#resumeSource()}. Default: nothing.
     */
    default void resume() throws Exception {}
}
