package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourcePhase;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MigrationProgressTest {
    private static SourceCounters sent(long bytes, long blocks, long zero, int rounds) {
        return new SourceCounters(bytes, blocks, zero, 0, bytes, 0, rounds, Map.of(), Map.of(), null, null, Map.of());
    }

    @Test
    void theFullCopyShowsShareBytesRateAndEta() {
        // 1000 of 4000 blocks of 4 KiB, at 4 MiB/s: 3000 blocks (12 MB) to go take 3 s.
        String line = MigrationProgress.outLine(SourcePhase.FULL_COPY, sent(4_096_000, 1000, 0, 0), 4000, 4_096_000);
        assertTrue(line.startsWith("Migrating out full_copy    [#######                       ]  25.0%"), line);
        assertTrue(line.contains("ETA 3 s"), line);
        assertTrue(line.endsWith("3.9 MiB sent 3.9 MiB/s"), line);
    }

    @Test
    void theDirtyRoundsShowTheRound() {
        String line = MigrationProgress.outLine(SourcePhase.DIRTY_ROUNDS, sent(1L << 30, 262144, 0, 3), 262144, 0);
        assertEquals("Migrating out dirty_rounds round 3 1.0 GiB sent 0 B/s", line);
    }

    @Test
    void aMigrationInShowsBlocksHereAndAfterTheResumeWhatIsToCome() {
        assertEquals(
                "Migrating in [###############               ]  50.0% 50/100 blocks 10 blocks/s ETA 5 s",
                MigrationProgress.inLine(50, 100, false, 10));
        assertEquals(
                "Post-copy    [###########################   ]  90.0% 90/100 blocks, 10 to come",
                MigrationProgress.inLine(90, 100, true, 0));
    }

    @Test
    void nothingIsDrawnWithoutAMigrationOrOffATerminal() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (MigrationProgress off = new MigrationProgress(new PrintStream(err), false).start(() -> null)) {
            assertSame(System.out, off.clearing(System.out));
            off.onProgress("memory", 5, 10);
            Thread.sleep(600); // longer than a redraw: nothing may be drawn in that window
        }
        assertEquals("", err.toString(StandardCharsets.UTF_8));
        MigrationProgress idle = new MigrationProgress(new PrintStream(err), true);
        assertNull(idle.line(System.nanoTime()));
    }

    @Test
    void onATerminalTheLineIsRedrawnInPlaceAndClearedForThePeersLines() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (MigrationProgress on = new MigrationProgress(new PrintStream(err, true), true).start(() -> null)) {
            on.onProgress("memory", 5, 10);
            Await.until(Duration.ofSeconds(10), "the progress line drawn", () -> err.size() > 0);
            on.clearing(new PrintStream(out, true)).println("Migration in: HANDSHAKE -> RECEIVING (3 ms)");
        }
        String drawn = err.toString(StandardCharsets.UTF_8);
        assertTrue(drawn.startsWith("\rMigrating in ["), drawn);
        assertTrue(drawn.contains("\r\033[K"), "cleared before the peer's line: " + drawn);
        assertEquals("Migration in: HANDSHAKE -> RECEIVING (3 ms)\n", out.toString(StandardCharsets.UTF_8));
    }
}
