package io.drafter.cli;

import io.drafter.linux.ExitActions;
import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.Transport;
import io.drafter.peer.Mounter;
import io.drafter.peer.Peer;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.config.DeviceConfigParser;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code drafter mounter}: Drafter's mounter, disks without a VM. It opens the devices of {@code --devices} from their
 * files ({@code --raddr ''}) or migrates them in from another mounter ({@code --raddr HOST:PORT}), exposes each as a
 * file in a FUSE mount under {@code --mount-dir} (Drafter exposed NBD devices), and with {@code --laddr} migrates them
 * on to the next mounter that connects, while the files stay writable until the final freeze.
 */
@Command(
        name = "mounter",
        description = "Expose devices as files without a VM, and move them live to and from other mounters.")
public final class MounterCommand implements Callable<Integer> {
    @Option(
            names = {"--devices", "-devices"},
            description = "JSON list of devices (Drafter's format: name, base, overlay, state, blockSize, expiry,"
                    + " maxDirtyBlocks, minCycles, maxCycles, cycleThrottle, makeMigratable, shared).")
    String devices = PeerCommand.DEFAULT_DEVICES;

    @Option(
            names = {"--raddr", "-raddr"},
            defaultValue = "localhost:1337",
            description = "Mounter to migrate the devices in from; '' opens them from their local files.")
    String raddr;

    @Option(
            names = {"--laddr", "-laddr"},
            defaultValue = "localhost:1337",
            description = "Accept mounters here and migrate the devices to the first one that completes; '' never.")
    String laddr;

    @Option(
            names = {"--mount-dir", "-mount-dir"},
            defaultValue = "out/mounter",
            description = "Where the device files appear (<dir>/<name>); missing or an empty directory, removed again"
                    + " at exit when the mounter created it.")
    Path mountDir;

    @Mixin
    CompressionOption compressionOption = new CompressionOption();

    @Option(
            names = {"--concurrency", "-concurrency"},
            defaultValue = "4096",
            description = "Accepted for compatibility with Drafter, ignored.")
    int concurrency;

    @Mixin
    MigrationSecurity securityOptions = new MigrationSecurity();

    @Override
    public Integer call() throws Exception {
        PrintStream out = LogSetup.events(System.out, "mounter");
        // Every flag is checked, and --laddr bound, before a device is opened: nothing is created for a bad start.
        List<DeviceConfig> deviceList = DeviceConfigParser.parse(devices, DeviceConfigParser.Use.PEER);
        InetSocketAddress from =
                raddr.isEmpty() ? null : PeerCommand.resolved(PeerCommand.address(raddr, "--raddr"), "--raddr");
        InetSocketAddress listenOn =
                laddr.isEmpty() ? null : PeerCommand.resolved(PeerCommand.address(laddr, "--laddr"), "--laddr");
        if (listenOn != null && deviceList.stream().noneMatch(DeviceConfig::migrated)) {
            throw new IllegalArgumentException("could not use --laddr " + laddr + ": no device of --devices can be"
                    + " migrated (all are shared or makeMigratable: false); pass --laddr ''");
        }
        MigrationSecurity.Resolved secured =
                securityOptions.resolve("drafter mounter", !(raddr.isEmpty() && laddr.isEmpty()), !laddr.isEmpty());
        Mounter.Options options = new Mounter.Options(
                deviceList, mountDir, secured.token(), secured.plainTcpAllowed(), compressionOption.on());
        securityOptions.warnIfInClear("drafter mounter", secured);
        State state = new State();
        try (StopSignals stop = StopSignals.install("drafter mounter", System.err);
                MigrationListener listener = listenOn == null
                        ? null
                        : MigrationListener.bind(
                                listenOn,
                                secured.security(),
                                secured.token(),
                                secured.plainTcpAllowed(),
                                MigrationListener.Limits.defaults());
                StatusRecord _ = StatusRecord.start("mounter", () -> state.record(listener))) {
            stop.busy(() -> "starting; it stops once the devices are mounted or given back");
            Mounter mounter;
            if (from == null) {
                mounter = Mounter.openLocal(options);
            } else {
                out.println("Migrating from " + raddr);
                state.state = "migrating in from " + raddr;
                try {
                    Connection c = Transport.connect(from, secured.security(), Duration.ofSeconds(30));
                    mounter = Mounter.migrateIn(options, c, phasesIn(out, state), stop.requested());
                } catch (IOException e) {
                    if (stop.isRequested()) {
                        System.err.println("drafter mounter: stopped by "
                                + stop.requested().getNow("")
                                + " before the hand-over; the devices stay at " + raddr
                                + ", nothing of them is kept here");
                        return 0;
                    }
                    throw new IOException(e.getMessage() + "; nothing was mounted here", e);
                }
            }
            ExitActions.Handle exitAction =
                    ExitActions.register(ExitActions.Stage.APPLICATION, "stop mounter", mounter::stop);
            state.mounter = mounter;
            state.state = "serving";
            stop.busy(() -> "flushing and unmounting the devices");
            mounter.files().forEach((name, path) -> out.println("Mounted device " + name + " on " + path));
            out.println("Devices mounted in " + mounter.mount().dir());
            int code = 0;
            if (listener == null) {
                out.println("Serving; press Ctrl-C to flush and unmount the devices");
                stop.requested().join();
            } else {
                out.println("Listening for connections on " + listener.address());
                Peer.Outcome outcome = mounter.serve(listener, new Events(out, state, stop), stop.requested());
                switch (outcome) {
                    case Peer.Outcome.MigratedAway m -> {
                        SourceCounters c = m.counters();
                        out.println("Migration completed: " + c.bytesSent() + " bytes, " + c.blocksSent()
                                + " blocks sent, " + c.zeroBlocks() + " zero blocks skipped, " + c.rounds()
                                + " dirty rounds");
                    }
                    case Peer.Outcome.HandOverUncertain u -> {
                        String where = mounter.stop();
                        exitAction.cancel();
                        System.err.println("drafter mounter: the hand-over to " + u.destination() + " is uncertain ("
                                + u.reason() + "): the grant was sent but never confirmed, so the devices were kept"
                                + " frozen here; " + where + ". If " + u.destination() + " did not mount them (its"
                                + " log says so), start again here with the same --devices and --raddr ''; if it"
                                + " did, they are there");
                        return 3;
                    }
                    case Peer.Outcome.StopRequested _ -> {}
                }
            }
            state.state = "stopping";
            String where = mounter.stop();
            exitAction.cancel();
            System.err.println("drafter mounter: "
                    + (stop.isRequested() ? "stopped by " + stop.requested().getNow("") + "; " : "")
                    + "unmounted " + mounter.mount().dir() + "; " + where);
            return code;
        }
    }

    private static DestinationListener phasesIn(PrintStream out, State state) {
        return new DestinationListener() {
            @Override
            public void onPhase(DestinationPhase from, DestinationPhase to, Duration timeInFrom) {
                state.inPhase = to.name().toLowerCase(Locale.ROOT);
                out.println("Migration in: " + from + " -> " + to + " (" + timeInFrom.toMillis() + " ms)");
            }
        };
    }

    /** Prints a migration out: its start, phases, dirty rounds, and a failure after which the files are writable. */
    private record Events(PrintStream out, State state, StopSignals stop) implements Peer.Events {
        @Override
        public void migrationStarted(String destination) {
            state.outTo = destination;
            state.state = "migrating out to " + destination;
            out.println("Migrating to " + destination);
        }

        @Override
        public void backedUp(String destination, io.drafter.migration.source.SourceCounters c, Duration paused) {
            state.state = "serving";
            out.println("Backed up to " + destination + " (" + c.bytesSent() + " bytes); the devices are writable"
                    + " here again");
            if (!stop.isRequested()) {
                out.println("Listening for connections again");
            }
        }

        @Override
        public void migrationFailed(String destination, String reason) {
            state.state = "serving";
            System.err.println("drafter mounter: migration to " + destination + " failed before the hand-over: "
                    + reason + "; the devices are writable here again");
            if (!stop.isRequested()) {
                out.println("Listening for connections again");
            }
        }

        @Override
        public void onPhase(SourcePhase from, SourcePhase to, Duration timeInFrom) {
            out.println("Migration out: " + from + " -> " + to + " (" + timeInFrom.toMillis() + " ms)");
        }

        @Override
        public void onDirtyRound(String device, int round, int dirtyBlocks, boolean last) {
            if (dirtyBlocks > 0 || last) {
                out.println("  " + device + ": round " + round + ", " + dirtyBlocks + " dirty blocks"
                        + (last ? " (final)" : ""));
            }
        }
    }

    /** What {@code drafter status} shows of this mounter; written by the command's threads. */
    static final class State {
        volatile String state = "starting";
        volatile Mounter mounter;
        volatile String inPhase;
        volatile String outTo;

        Map<String, Object> record(MigrationListener listener) {
            Map<String, Object> r = new LinkedHashMap<>();
            Mounter m = mounter;
            r.put("state", state);
            Map<String, Object> listeners = new LinkedHashMap<>();
            if (listener != null) {
                listeners.put(
                        "migration",
                        listener.address().getHostString() + ":"
                                + listener.address().getPort());
            }
            r.put("listeners", listeners);
            List<Object> migrations = new ArrayList<>();
            var o = m == null ? null : m.outgoing();
            if (o != null && !o.phase().terminal()) {
                Map<String, Object> mig = new LinkedHashMap<>();
                mig.put("direction", "out");
                mig.put("peer", outTo);
                mig.put("phase", o.phase().name().toLowerCase(Locale.ROOT));
                mig.put("bytes", o.counters().bytesSent());
                migrations.add(mig);
            }
            if (m == null && inPhase != null) {
                migrations.add(Map.of("direction", "in", "phase", inPhase));
            }
            r.put("migrations", migrations);
            r.put(
                    "mounts",
                    m == null || m.mount() == null
                            ? List.of()
                            : List.of(m.mount().dir().toString()));
            return r;
        }
    }
}
