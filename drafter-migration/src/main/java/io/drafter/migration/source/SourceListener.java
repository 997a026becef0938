package io.drafter.migration.source;

import java.time.Duration;

/**
 * Observes a migration from the source side. Every method has a no-op default.
 *
 * <p><b>Note:</b> called on the engine's agent thread, one call at a time ({@link #onPhase} to {@link
 * SourcePhase#RESUMED} on the caller of {@link MigrationSource#resumeSource()}, once the agent announced the failure);
 * implementations must be quick (the agent sends nothing meanwhile) and must not call back into the engine's waiting
 * methods.
 */
public interface SourceListener {
    /** The state machine moved from {@code from} (where it spent {@code timeInFrom}) to {@code to}. */
    default void onPhase(SourcePhase from, SourcePhase to, Duration timeInFrom) {}

    /** A dirty round of {@code device} found {@code dirtyBlocks} blocks to send again ({@code last}: the final set). */
    default void onDirtyRound(String device, int round, int dirtyBlocks, boolean last) {}

    /** {@code device} converged after {@code rounds} rounds. */
    default void onDeviceReady(String device, int rounds) {}

    /** The destination asked for {@code block} of {@code device} because a reader waits for it. */
    default void onPriorityRequest(String device, long block) {}

    /** The migration failed; {@code e} says why and who is authoritative. */
    default void onFailed(io.drafter.migration.MigrationException e) {}

    /** The no-op listener. */
    SourceListener NONE = new SourceListener() {};
}
