package io.drafter.migration.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.engine.MigrationEngineTest.Source;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.testing.Loopback;
import io.drafter.migration.testing.Migration;
import io.drafter.migration.testing.TestDevices;
import io.drafter.storage.waiting.WaitingDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A destination that only keeps a copy (a live backup, {@code drafter terminator --live-backup}): it receives the
 * devices as they were at the cut (the suspend), the source's writers resume as soon as the GRANT is written, and the
 * source keeps the devices, also when the backup fails after the grant.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LiveBackupTest {
    static final DestinationOptions BACKUP = DestinationOptions.defaults()
            .withToken(MigrationEngineTest.TOKEN)
            .withExplicitTakeover(true)
            .withWaitForAllBlocks(true)
            .withCopyOnly(true);

    /** The source's devices with writers running; {@code cut} gets each device's SHA-256 at the suspend. */
    static Source writing(List<String> cut) throws Exception {
        Source src = new Source()
                .add("disk", 4 << 20, 64 << 10, 21, MigrationEngineTest.FAST)
                .add("memory", 2 << 20, 4096, 22, MigrationEngineTest.FAST)
                .startWriters(23);
        src.duringSuspend = () -> {
            try {
                for (var t : src.trackers) {
                    cut.add(TestDevices.sha256(t));
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        return src;
    }

    @Test
    void theCopyHoldsTheCutAndTheSourceRunsOnAndKeepsTheDevices() throws Exception {
        List<String> cut = new ArrayList<>();
        Source src = writing(cut);
        Migration m = Migration.start(
                Loopback.plain(),
                DestinationStorage.inMemory(),
                BACKUP,
                src.devices,
                SourceOptions.defaults().withToken(MigrationEngineTest.TOKEN),
                src);
        MigrationDestination dst = m.destination();
        Map<String, WaitingDevice> copy =
                dst.awaitResumable(MigrationEngineTest.WAIT).devices();
        dst.takeOver(MigrationEngineTest.WAIT);
        dst.confirmTakeover();
        m.source().awaitCompleted(MigrationEngineTest.WAIT);
        assertTrue(m.source().copyOnly());
        assertEquals(SourcePhase.COMPLETED, m.source().phase());
        assertEquals(Authority.SOURCE, m.source().authority(), "a backup moves nothing");
        assertEquals(1, src.suspends);
        assertEquals(1, src.resumes, "the writers resumed once, after the grant");
        for (int i = 0; i < src.devices.size(); i++) {
            assertEquals(
                    cut.get(i), TestDevices.sha256(copy.get(src.devices.get(i).name())), "device " + i);
        }
        src.close();
    }

    @Test
    void aBackupThatFailsAfterTheGrantLeavesTheSourceOwningAndRunning() throws Exception {
        Source src = writing(new ArrayList<>());
        Migration m = Migration.start(
                Loopback.plain(),
                DestinationStorage.inMemory(),
                BACKUP,
                src.devices,
                SourceOptions.defaults().withToken(MigrationEngineTest.TOKEN),
                src);
        MigrationDestination dst = m.destination();
        dst.awaitResumable(MigrationEngineTest.WAIT);
        dst.takeOver(MigrationEngineTest.WAIT);
        dst.abort(); // e.g. the files could not be made durable
        MigrationException e =
                assertThrows(MigrationException.class, () -> m.source().awaitCompleted(MigrationEngineTest.WAIT));
        assertEquals(Authority.SOURCE, e.authority(), e.getMessage());
        assertEquals(Authority.SOURCE, m.source().authority());
        assertEquals(1, src.resumes, "resumed once, by the engine");
        src.close();
    }
}
