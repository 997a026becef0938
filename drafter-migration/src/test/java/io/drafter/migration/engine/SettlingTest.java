package io.drafter.migration.engine;

import static io.drafter.migration.engine.MigrationEngineTest.WAIT;
import static io.drafter.migration.engine.MigrationEngineTest.assertSameContents;
import static io.drafter.migration.engine.MigrationEngineTest.startExplicit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.source.DirtyPolicy;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.testing.Migration;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A {@link io.drafter.migration.source.SuspendHook} whose {@code settling()} is still running (a VM's devices being made
 * durable) lets the final set and AUTHORITY go but holds the GRANT; its failure fails the migration before the GRANT.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SettlingTest {
    /** A source whose hook leaves work behind its suspend, finished when the test says so. */
    static final class Settling extends MigrationEngineTest.Source {
        final CompletableFuture<Void> settled = new CompletableFuture<>();

        @Override
        public CompletableFuture<Void> settling() {
            return settled;
        }
    }

    private static CompletableFuture<Void> takeOverAsync(MigrationDestination d) {
        return CompletableFuture.runAsync(() -> {
            try {
                d.takeOver(WAIT);
            } catch (IOException | InterruptedException e) {
                throw new CompletionException(e);
            }
        });
    }

    @Test
    void theFinalSetGoesWhileTheHookSettlesAndTheGrantWaitsForIt() throws Exception {
        Settling src = new Settling();
        src.add("disk", 2 << 20, 64 << 10, 81, DirtyPolicy.NO_ROUNDS)
                .add("memory", 4 << 20, 64 << 10, 82, DirtyPolicy.NO_ROUNDS);
        Migration m = startExplicit(src);
        // AUTHORITY and every block arrived although the hook has not settled.
        MigrationDestination.Resumable r = m.destination().awaitResumable(WAIT);
        CompletableFuture<Void> takeOver = takeOverAsync(m.destination());
        Thread.sleep(300);
        assertFalse(takeOver.isDone(), "no GRANT while the hook settles");
        assertEquals(SourcePhase.AUTHORITY_SENT, m.source().phase());

        src.settled.complete(null);
        takeOver.get(60, TimeUnit.SECONDS);
        m.destination().confirmTakeover();
        m.source().awaitCompleted(WAIT);
        assertSameContents(src, r.devices());
        assertEquals(1, src.suspends);
        assertEquals(0, src.resumes);
        src.close();
    }

    @Test
    void aHookThatFailsToSettleResumesTheWritersAndNeverGrants() throws Exception {
        Settling src = new Settling();
        src.add("disk", 2 << 20, 64 << 10, 83, DirtyPolicy.NO_ROUNDS);
        Migration m = startExplicit(src);
        m.destination().awaitResumable(WAIT);
        CompletableFuture<Void> takeOver = takeOverAsync(m.destination());
        src.settled.completeExceptionally(new IOException("could not fsync overlay: EIO"));

        MigrationException e =
                assertThrows(MigrationException.class, () -> m.source().awaitCompleted(WAIT));
        assertEquals(Authority.SOURCE, e.authority(), e.getMessage());
        assertTrue(e.getMessage().contains("could not fsync overlay: EIO"), e.getMessage());
        assertEquals(SourcePhase.FAILED, m.source().phase());
        assertEquals(1, src.resumes, "the writers run at the source again");
        CompletionException c = assertThrows(CompletionException.class, takeOver::join);
        assertTrue(c.getCause() instanceof IOException, String.valueOf(c.getCause()));
        assertEquals(Authority.SOURCE, m.destination().authority(), "nothing runs at the destination");
        src.close();
    }
}
