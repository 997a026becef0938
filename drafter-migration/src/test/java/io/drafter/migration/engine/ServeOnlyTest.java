package io.drafter.migration.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.engine.MigrationEngineTest.Delayed;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.source.AuthenticatedDestination;
import io.drafter.migration.source.DirtyPolicy;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceDevice;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SuspendHook;
import io.drafter.migration.testing.Migration;
import io.drafter.migration.testing.TestDevices;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.dirty.DirtyTrackingDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A source that never runs what it serves (a registry): its listener serves several destinations at once, each runs
 * from AUTHORITY on while the rest streams in (reads of missing blocks fetched first), keeps what it writes itself
 * over the copies that arrive later, and owns its copy even if the source goes away.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServeOnlyTest {
    static final Duration WAIT = Duration.ofSeconds(60);
    static final SharedToken TOKEN = MigrationEngineTest.TOKEN;
    static final int BLOCK = 4096;
    static final int BLOCKS = 1024;

    /** Counts calls: a serve-only source never suspends anything. */
    static final class NoVm implements SuspendHook {
        final AtomicInteger calls = new AtomicInteger();

        @Override
        public void suspend() {
            calls.incrementAndGet();
        }

        @Override
        public void resume() {
            calls.incrementAndGet();
        }
    }

    private final List<AutoCloseable> cleanup = new ArrayList<>();
    private final ExecutorService pool = Executors.newFixedThreadPool(4);
    private final NoVm hook = new NoVm();
    /** The package's device, read slowly (1 ms a block) so that its full copy takes about a second. */
    private final MemoryBlockDevice base = TestDevices.random("disk", (long) BLOCKS * BLOCK, BLOCK, 11, 7);

    ServeOnlyTest() throws IOException {}

    @AfterEach
    void cleanUp() throws Exception {
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS), "test threads ended");
        for (AutoCloseable c : cleanup.reversed()) {
            try {
                c.close();
            } catch (Exception ignored) {
                // best effort: the test result is decided already
            }
        }
    }

    MigrationListener registry(int sessions) throws IOException {
        MigrationListener l = MigrationListener.bind(
                Migration.anyLoopbackPort(),
                TransportSecurity.plainTcp(),
                TOKEN,
                false,
                MigrationListener.Limits.defaults().withMaxSessions(sessions),
                true);
        cleanup.add(l);
        return l;
    }

    /**
     * One session's view of the package: its own tracker over the shared, slowly read device (3 ms a block, about 3 s
     * for the copy: the destinations run, and read the late block, while it is on its way even on a loaded machine).
     */
    List<SourceDevice> devices() {
        return List.of(new SourceDevice(
                "disk", new DirtyTrackingDevice(new Delayed(base, 3, 0)), null, DirtyPolicy.NO_ROUNDS));
    }

    static SourceOptions serveOnly() {
        return SourceOptions.defaults().withServeOnly(true);
    }

    static DestinationOptions lazy() {
        return DestinationOptions.defaults()
                .withToken(TOKEN)
                .withExplicitTakeover(true)
                .withWindowBytes(16 * BLOCK);
    }

    MigrationDestination dial(MigrationListener l, DestinationOptions options) throws IOException {
        Connection c = Transport.connect(l.address(), TransportSecurity.plainTcp(), WAIT);
        return MigrationDestination.accept(c, DestinationStorage.inMemory(), options, null);
    }

    static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /**
     * One destination of a registry: runs as soon as it may, reads a late block, writes a whole block and part of a
     * late one, confirms, and waits for the rest. Returns the device once complete.
     */
    WaitingDevice runEarly(MigrationDestination dst, int value) throws Exception {
        MigrationDestination.Resumable r = dst.awaitResumable(WAIT);
        WaitingDevice disk = r.devices().get("disk");
        dst.takeOver(WAIT);
        assertEquals(DestinationPhase.FETCHING, dst.phase(), "runs before the grant");
        assertEquals(Authority.DESTINATION, dst.authority());
        assertFalse(disk.isComplete(), "the copy is still on its way when the destination may run");
        assertArrayEquals(TestDevices.block(base, BLOCKS - 1), TestDevices.block(disk, BLOCKS - 1), "a late block");
        disk.write(ByteBuffer.wrap(filled(BLOCK, value)), 5L * BLOCK);
        disk.write(ByteBuffer.wrap(filled(100, value)), (BLOCKS - 2L) * BLOCK + 10);
        dst.confirmTakeover();
        dst.awaitCompleted(WAIT);
        assertEquals(DestinationPhase.COMPLETED, dst.phase());
        assertTrue(disk.isComplete());
        return disk;
    }

    @Test
    void severalDestinationsRunFromOneRegistryBeforeTheirCopiesArriveAndKeepTheirOwnWrites() throws Exception {
        MigrationListener l = registry(3);
        List<MigrationDestination> destinations = new ArrayList<>();
        List<MigrationSource> sources = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            destinations.add(dial(l, lazy()));
            AuthenticatedDestination session = l.accept(WAIT);
            sources.add(MigrationSource.start(session, devices(), serveOnly(), hook, null));
        }
        List<Future<WaitingDevice>> runs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            MigrationDestination dst = destinations.get(i);
            int value = 0x40 + i;
            runs.add(pool.submit(() -> runEarly(dst, value)));
        }
        for (int i = 0; i < 3; i++) {
            WaitingDevice disk = runs.get(i).get(90, TimeUnit.SECONDS);
            for (long b = 0; b < BLOCKS; b++) {
                byte[] expected = TestDevices.block(base, b);
                if (b == 5) {
                    expected = filled(BLOCK, 0x40 + i);
                } else if (b == BLOCKS - 2) {
                    Arrays.fill(expected, 10, 110, (byte) (0x40 + i));
                }
                assertArrayEquals(expected, TestDevices.block(disk, b), "destination " + i + " block " + b);
            }
            SourceCounters c = sources.get(i).awaitCompleted(WAIT);
            assertTrue(c.blocksSent() + c.zeroBlocks() >= BLOCKS, "every block: " + c);
            assertTrue(c.priorityBlocks() >= 1, "the late block was requested: " + c);
        }
        assertEquals(0, hook.calls.get(), "a registry suspends and resumes nothing");
        assertEquals(0, l.refusedCount());
    }

    @Test
    void aDestinationThatWaitsForAllBlocksRunsOnlyWithTheGrant() throws Exception {
        MigrationListener l = registry(1);
        MigrationDestination dst = dial(l, lazy().withWaitForAllBlocks(true));
        MigrationSource source = MigrationSource.start(l.accept(WAIT), devices(), serveOnly(), hook, null);
        WaitingDevice disk = dst.awaitResumable(WAIT).devices().get("disk");
        assertTrue(disk.isComplete(), "--disable-postcopy-migration: prepared only with every block");
        dst.takeOver(WAIT);
        assertEquals(DestinationPhase.GRANTED, dst.phase());
        dst.confirmTakeover();
        source.awaitCompleted(WAIT);
        assertEquals(TestDevices.sha256(base), TestDevices.sha256(disk));
    }

    @Test
    void aListenerThatAnnouncesARegistryServesNoRunningVmAndAPeerListenerNoRegistry() throws Exception {
        MigrationListener l = registry(1);
        dial(l, lazy());
        AuthenticatedDestination session = l.accept(WAIT);
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> MigrationSource.start(session, devices(), SourceOptions.defaults(), hook, null));
        assertTrue(e.getMessage().contains("announced a serve-only source"), e.getMessage());
        session.close();

        MigrationListener peer = MigrationListener.bind(
                Migration.anyLoopbackPort(),
                TransportSecurity.plainTcp(),
                TOKEN,
                false,
                MigrationListener.Limits.defaults());
        cleanup.add(peer);
        dial(peer, lazy());
        AuthenticatedDestination s2 = peer.accept(WAIT);
        e = assertThrows(
                IllegalArgumentException.class, () -> MigrationSource.start(s2, devices(), serveOnly(), hook, null));
        assertTrue(e.getMessage().contains("did not announce a serve-only source"), e.getMessage());
        s2.close();
        assertEquals(0, hook.calls.get());
    }

    @Test
    void aDestinationBeyondTheSessionLimitGetsBusy() throws Exception {
        MigrationListener l = registry(1);
        MigrationDestination first = dial(l, lazy());
        MigrationSource source = MigrationSource.start(l.accept(WAIT), devices(), serveOnly(), hook, null);
        MigrationDestination second = dial(l, lazy());
        MigrationException e = assertThrows(MigrationException.class, () -> second.awaitDevices(WAIT));
        assertEquals(
                ErrorCode.BUSY,
                assertInstanceOf(ProtocolException.class, e.getCause()).code(),
                e.getMessage());
        runEarly(first, 1);
        source.awaitCompleted(WAIT);
    }

    @Test
    void aDestinationRunningFromARegistryThatGoesAwayKeepsItsCopyAndFailsReadsOfMissingBlocks() throws Exception {
        MigrationListener l = registry(1);
        MigrationDestination dst = dial(l, lazy());
        MigrationSource source = MigrationSource.start(l.accept(WAIT), devices(), serveOnly(), hook, null);
        WaitingDevice disk = dst.awaitResumable(WAIT).devices().get("disk");
        dst.takeOver(WAIT);
        byte[] first = TestDevices.block(disk, 0);
        source.abort();
        MigrationException e = assertThrows(MigrationException.class, () -> dst.awaitCompleted(WAIT));
        assertEquals(Authority.DESTINATION, e.authority(), e.getMessage());
        assertTrue(e.getMessage().contains("incomplete copy"), e.getMessage());
        assertEquals(DestinationPhase.FAILED, dst.phase());
        assertArrayEquals(first, TestDevices.block(disk, 0), "what arrived stays readable");
        long missing = BLOCKS - 1;
        while (missing > 0 && disk.isPresent(missing)) {
            missing--;
        }
        long block = missing;
        assertFalse(disk.isPresent(block));
        assertThrows(IOException.class, () -> TestDevices.block(disk, block));
        assertEquals(0, hook.calls.get());
    }

    /** The device is the test's own: nothing above closes it. */
    @AfterEach
    void baseUnchanged() throws IOException {
        BlockDevice b = base;
        assertEquals(
                TestDevices.sha256(TestDevices.random("disk", (long) BLOCKS * BLOCK, BLOCK, 11, 7)),
                TestDevices.sha256(b));
    }
}
