package io.drafter.migration.engine;

import static io.drafter.migration.engine.MigrationEngineTest.FAST;
import static io.drafter.migration.engine.MigrationEngineTest.TOKEN;
import static io.drafter.migration.engine.MigrationEngineTest.WAIT;
import static io.drafter.migration.engine.MigrationEngineTest.acceptWithToken;
import static io.drafter.migration.engine.MigrationEngineTest.assertSameContents;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.testing.Loopback;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A {@link io.drafter.migration.source.SuspendHook} that prepares the suspend (a VM's agent and a first RAM flush while
 * it runs) gets one more round sent with its writers running before it is suspended.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LastLiveRoundTest {
    /** A source whose hook prepares: the writers keep writing through {@code prepare()} and the round after it. */
    static final class Preparing extends MigrationEngineTest.Source {
        volatile int prepares;
        Runnable duringPrepare = () -> {};

        @Override
        public boolean prepare() {
            prepares++;
            events.add("prepare");
            duringPrepare.run();
            return true;
        }

        @Override
        public void suspend() throws Exception {
            events.add("suspend");
            super.suspend();
        }

        @Override
        SourceListener listener() {
            return new SourceListener() {
                @Override
                public void onDirtyRound(String device, int round, int dirtyBlocks, boolean last) {
                    events.add((last ? "final " : "round ") + device);
                }
            };
        }
    }

    private static MigrationSource start(Loopback.Pair pair, Preparing src) throws IOException {
        return MigrationSource.start(
                pair.source(), src.devices, SourceOptions.defaults().withToken(TOKEN), src, src.listener());
    }

    @Test
    void aHookThatPreparesGetsOneMoreRoundWithItsWritersRunningAndThenTheFinalSet() throws Exception {
        Preparing src = new Preparing();
        src.add("disk", 4 << 20, 64 << 10, 61, FAST)
                .add("memory", 8 << 20, 64 << 10, 62, FAST)
                .startWriters(63);
        Loopback.Pair pair = Loopback.plain();
        MigrationDestination dst = acceptWithToken(pair);
        MigrationSource source = start(pair, src);
        MigrationDestination.Resumable r = dst.awaitResumable(WAIT);
        source.awaitCompleted(WAIT);
        dst.awaitCompleted(WAIT);

        assertSameContents(src, r.devices());
        assertEquals(1, src.prepares);
        assertEquals(1, src.suspends);
        assertEquals(0, src.resumes);
        List<String> events = List.copyOf(src.events);
        int prepare = events.indexOf("prepare");
        int suspend = events.indexOf("suspend");
        assertTrue(prepare >= 0 && suspend > prepare, "prepare, then suspend: " + events);
        // After prepare() and before suspend(): one round per device, sent while the writers ran.
        List<String> between = events.subList(prepare + 1, suspend);
        assertEquals(List.of("round disk", "round memory"), between, "between prepare and suspend: " + events);
        // After suspend(): the final set, once per device.
        assertEquals(
                List.of("final disk", "final memory"), events.subList(suspend + 1, events.size()), "after: " + events);
        src.close();
    }

    @Test
    void aMigrationThatFailsAfterThePreparationResumesTheWritersAndNeverSuspends() throws Exception {
        Preparing src = new Preparing();
        src.add("disk", 4 << 20, 64 << 10, 71, FAST).startWriters(72);
        Loopback.Pair pair = Loopback.plain();
        MigrationDestination dst = acceptWithToken(pair);
        // The destination goes away while the hook prepares: the last live round cannot be sent.
        src.duringPrepare = dst::abort;
        MigrationSource source = start(pair, src);
        MigrationException e = assertThrows(MigrationException.class, () -> source.awaitCompleted(WAIT));
        assertEquals(Authority.SOURCE, e.authority(), e.getMessage());
        assertEquals(SourcePhase.FAILED, source.phase());
        assertEquals(1, src.prepares);
        assertEquals(0, src.suspends, "never suspended: " + src.events);
        assertEquals(1, src.resumes, "the writers were told to run on, undoing the preparation");
        src.close();
    }
}
