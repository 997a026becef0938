package io.drafter.migration.destination;

import io.drafter.migration.MigrationException;
import java.time.Duration;

/**
 * Observes a migration from the destination side. Every method has a no-op default.
 *
 * <p><b>Note:</b> called on the engine's threads; implementations must be quick.
 */
public interface DestinationListener {
    /** The state machine moved from {@code from} (after {@code timeInFrom}) to {@code to}. */
    default void onPhase(DestinationPhase from, DestinationPhase to, Duration timeInFrom) {}

    /** {@code device} has {@code presentBlocks} of {@code totalBlocks}; called at most every 100 ms per device. */
    default void onProgress(String device, long presentBlocks, long totalBlocks) {}

    /** A reader waits for {@code block} of {@code device}; it was requested from the source. */
    default void onMissingBlock(String device, long block) {}

    default void onFailed(MigrationException e) {}

    DestinationListener NONE = new DestinationListener() {};
}
