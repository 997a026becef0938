package io.drafter.peer;

import io.drafter.migration.Authority;
import io.drafter.migration.destination.DestinationCounters;
import io.drafter.migration.destination.MigrationDestination;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * The hand-over of a migration in, as a peer, a mounter and a terminator take it: a stop before this side has
 * authority gives the devices back to the source; once granted, what makes the devices this side's is done before
 * the takeover is confirmed, and its failure gives them back too.
 *
 * <p><b>Note:</b> stateless; it runs on the caller's thread.
 */
final class MigrationsIn {
    /** What makes granted devices this side's (mount them, move files over their outputs). */
    @FunctionalInterface
    interface Commit {
        void run() throws IOException;
    }

    private MigrationsIn() {}

    /**
     * Aborts {@code in} when {@code stop} completes while this side does not have authority yet (the source then runs
     * on with its devices). Cancel the returned future once that no longer applies.
     */
    static CompletableFuture<?> abortOnStop(MigrationDestination in, CompletableFuture<?> stop) {
        return stop.thenRun(() -> {
            if (in.authority() != Authority.DESTINATION) {
                in.abort();
            }
        });
    }

    /**
     * Waits until {@code in} may take over, asks for the hand-over and, once granted, stops {@code aborter} and runs
     * {@code commit}; then confirms the takeover and waits for the migration to complete. A {@code commit} that fails
     * aborts {@code in}, so the source takes its devices back, and is thrown with the message {@code failed} makes of
     * it.
     */
    static DestinationCounters takeOver(
            MigrationDestination in, CompletableFuture<?> aborter, Commit commit, Function<Exception, String> failed)
            throws IOException, InterruptedException {
        in.awaitResumable(Peer.MIGRATION_LIMIT);
        in.takeOver(Peer.TAKEOVER_LIMIT);
        aborter.cancel(false);
        try {
            commit.run();
        } catch (IOException | RuntimeException e) {
            // Granted, but nothing is safely here: say so, and the source takes its devices back.
            in.abort();
            throw new IOException(failed.apply(e), e);
        }
        in.confirmTakeover();
        return in.awaitCompleted(Duration.ofMinutes(1));
    }
}
