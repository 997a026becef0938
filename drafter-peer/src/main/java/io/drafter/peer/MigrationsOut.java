package io.drafter.peer;

import io.drafter.migration.Authority;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.source.AuthenticatedDestination;
import io.drafter.migration.source.DirtyPolicy;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceDevice;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.transport.SharedToken;
import io.drafter.storage.DeviceStack;
import io.drafter.storage.config.DeviceConfig;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Serving migrations out, as a peer (its VM) and a mounter (its frozen files) both do: one destination at a time, each
 * that authenticates gets the devices; a live backup serves on; a migration that fails before the grant leaves the
 * devices in use here and serves on; one after the grant hands them back only on the destination's word.
 *
 * <p><b>Note:</b> stateless; it runs on the caller's thread. What differs between the two is a {@link Side}.
 */
final class MigrationsOut {
    /** What a peer and a mounter do differently around a migration out. */
    interface Side {
        /** Starts the migration of the devices to {@code d} (their suspend hook, their options). */
        MigrationSource start(AuthenticatedDestination d, Peer.Events ev) throws IOException;

        /** How long the last live backup held the devices' writers. */
        Duration backupPause();

        /** The migration completed: the devices are at {@code to} now. */
        void migratedAway(String to);

        /** The grant went out and the destination may use the devices: they stay held here. */
        void handOverUncertain();

        /** Whether the devices are in use here again after a failed migration. */
        boolean inUseHere();

        /** The message, before {@code ": why"}, when the devices could not be taken back after {@code to} returned them. */
        String couldNotTakeBack(String to);

        /** The message, before {@code ": reason"}, when the devices are not in use here after a failed migration. */
        String notInUseHere(String to);
    }

    private MigrationsOut() {}

    /**
     * Serves migrations out on {@code listener} until one completes or {@code stop} is asked for (checked at least
     * every 200 ms while nobody authenticates); {@code stop} during a migration aborts it before the grant.
     */
    static Peer.Outcome serve(MigrationListener listener, Peer.Events events, CompletableFuture<?> stop, Side side)
            throws IOException, InterruptedException {
        Peer.Events ev = events == null ? new Peer.Events() {} : events;
        while (true) {
            AuthenticatedDestination d = null;
            while (d == null) {
                if (stop.isDone()) {
                    return new Peer.Outcome.StopRequested();
                }
                try {
                    d = listener.accept(Duration.ofMillis(200));
                } catch (java.net.SocketTimeoutException e) {
                    // Nobody authenticated yet: look at the stop request again.
                }
            }
            String to = d.peer();
            ev.migrationStarted(to);
            MigrationSource source = side.start(d, ev);
            CompletableFuture<?> aborter = stop.thenRun(source::abortBeforeGrant);
            try {
                SourceCounters counters = source.awaitCompleted(Peer.MIGRATION_LIMIT);
                if (source.copyOnly()) {
                    // A live backup (drafter terminator --live-backup): the devices are in use here again after the
                    // grant and stay; serve the next one.
                    ev.backedUp(to, counters, side.backupPause());
                    continue;
                }
                side.migratedAway(to);
                return new Peer.Outcome.MigratedAway(to, counters);
            } catch (IOException e) {
                Peer.Outcome o = afterFailure(source, e, to, ev, side);
                if (o != null) {
                    return o;
                }
            } finally {
                aborter.cancel(false);
            }
        }
    }

    /**
     * After a migration out failed: before the grant the engine gave the devices back to their users here already
     * (resumed the VM, thawed the files); after it, only the destination's explicit word that it did not use them
     * ({@code ABORTED}) hands them back. Otherwise the hand-over is uncertain and the devices stay held here.
     *
     * @return {@code null} when the devices are in use here again (serve on), else the outcome to return
     */
    static Peer.Outcome afterFailure(MigrationSource source, IOException failure, String to, Peer.Events ev, Side side)
            throws IOException {
        String reason = Peer.oneLine(failure);
        boolean destinationGaveUp = false;
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof ProtocolException p && p.fromPeer() && p.code() == ErrorCode.ABORTED) {
                destinationGaveUp = true;
            }
        }
        if (source.authority() != Authority.SOURCE && source.phase() != SourcePhase.RESUMED && !destinationGaveUp) {
            side.handOverUncertain();
            return new Peer.Outcome.HandOverUncertain(to, reason);
        }
        if (source.phase() != SourcePhase.RESUMED && source.authority() != Authority.SOURCE) {
            try {
                source.resumeSource();
            } catch (Exception e) {
                throw new IOException(side.couldNotTakeBack(to) + ": " + e.getMessage(), e);
            }
        }
        if (!side.inUseHere()) {
            throw new IOException(side.notInUseHere(to) + ": " + reason);
        }
        ev.migrationFailed(to, reason);
        return null;
    }

    /**
     * The devices of {@code stacks} that migrate (not {@code shared}, not {@code makeMigratable: false}), each with its
     * dirty policy from its configuration; starts tracking their writes. The caller holds the lock of {@code stacks}.
     */
    static List<SourceDevice> sourceDevices(Collection<DeviceStack> stacks) {
        List<SourceDevice> devices = new ArrayList<>();
        for (DeviceStack s : stacks) {
            DeviceConfig c = s.config();
            if (c.migrated()) {
                devices.add(new SourceDevice(
                        c.name(),
                        s.dirty(),
                        s.volatility(),
                        new DirtyPolicy(
                                (int) Math.min(Integer.MAX_VALUE, c.maxDirtyBlocks()),
                                c.minCycles(),
                                c.maxCycles(),
                                c.cycleThrottle())));
                s.dirty().startTracking();
            }
        }
        return devices;
    }

    /** The options of a migration out. */
    static SourceOptions sourceOptions(boolean compression, SharedToken token, boolean plainTcpAllowed) {
        return SourceOptions.defaults()
                .withCompression(compression)
                .withToken(token)
                .withPlainTcpAllowed(plainTcpAllowed);
    }
}
