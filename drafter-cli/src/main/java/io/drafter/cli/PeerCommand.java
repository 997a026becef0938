package io.drafter.cli;

import io.drafter.base.DeviceRole;
import io.drafter.linux.ExitActions;
import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.peer.Peer;
import io.drafter.peer.PeerMetrics;
import io.drafter.peer.PeerOptions;
import io.drafter.peer.RunDir;
import io.drafter.storage.config.DeviceConfigParser;
import io.drafter.vm.qemu.QemuVmm;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code drafter peer}: Drafter's peer with its flags and {@code --devices} JSON. Resumes a VM from package files
 * ({@code --raddr ''}) or migrates it in from another peer ({@code --raddr HOST:PORT}); with {@code --laddr} it then
 * waits for one peer to connect and migrates the VM there. Migrations are authenticated: a shared token
 * ({@code --token-file}), TLS with client certificates ({@code --tls-*}), or, only when asked for, plain TCP.
 */
@Command(name = "peer", description = "Run a VM from a package and live-migrate it to and from other peers.")
public final class PeerCommand implements Callable<Integer> {
    static final String DEFAULT_DEVICES;

    static {
        StringBuilder b = new StringBuilder("[");
        for (DeviceRole role : DeviceRole.vmDevices()) {
            String[] f = {role.deviceName(), role.fileName()};
            b.append(b.length() > 1 ? "," : "")
                    .append("{\"name\":\"")
                    .append(f[0])
                    .append("\",\"base\":\"out/package/")
                    .append(f[1])
                    .append("\",\"overlay\":\"out/overlay/")
                    .append(f[1])
                    .append("\",\"state\":\"out/state/")
                    .append(f[1])
                    .append("\"}");
        }
        DEFAULT_DEVICES = b.append(']').toString();
    }

    @Option(
            names = {"--devices", "-devices"},
            description = "JSON list of devices (Drafter's format).")
    String devices = DEFAULT_DEVICES;

    @Option(
            names = {"--raddr", "-raddr"},
            defaultValue = "localhost:1337",
            description = "Peer to migrate the VM in from; '' resumes from the local devices.")
    String raddr;

    @Option(
            names = {"--laddr", "-laddr"},
            defaultValue = "localhost:1337",
            description = "After resuming, accept one peer here and migrate the VM to it; '' never.")
    String laddr;

    @Option(
            names = {"--netns", "-netns"},
            defaultValue = "ark0",
            description = "Namespace holding tap0; '' none.")
    String netns;

    @Option(
            names = {"--resume-timeout", "-resume-timeout"},
            defaultValue = "1m",
            converter = GoDuration.class,
            description = "Longest resume (state load + AfterResume) or suspend.")
    Duration resumeTimeout;

    @Option(
            names = {"--disable-postcopy-migration", "-disable-postcopy-migration"},
            arity = "0..1",
            defaultValue = "false",
            description = "Resume a migrated-in VM only once every block is here.")
    boolean disablePostcopy;

    @Option(
            names = {"--chroot-base-dir", "-chroot-base-dir"},
            defaultValue = "out/vms",
            description = "Base of the instance directory (FUSE mount, QEMU sockets, console log).")
    Path chrootBaseDir;

    @Option(
            names = {"--metrics", "-metrics"},
            defaultValue = "",
            description = "host:port for Prometheus /metrics.")
    String metrics;

    /** Where a migration's token is when no security flag is given (also {@code $DRAFTER_TOKEN_FILE}). */
    static final String DEFAULT_TOKEN_FILE = MigrationSecurity.DEFAULT_TOKEN_FILE;

    @Mixin
    MigrationSecurity securityOptions = new MigrationSecurity();

    @Option(
            names = {"--port-forwards", "-port-forwards"},
            defaultValue = "",
            description = "Drafter forwarder JSON: host addresses forwarded to the guest while the VM runs here"
                    + " (installed at resume, removed at suspend, so a migration moves them).")
    String portForwards;

    @Mixin
    CompressionOption compressionOption = new CompressionOption();

    @Option(
            names = {"--clean", "-clean"},
            description = "Remove what killed peers left (stale FUSE mounts, instance directories and files of"
                    + " unfinished migrations in under --chroot-base-dir; port forwards of dead processes), then"
                    + " exit. Every peer also does this when it starts.")
    boolean clean;

    // Drafter compatibility: console flags; Firecracker/jailer flags (only --uid/--gid act); the rest are ignored.
    @Mixin
    ConsoleOptions consoleOptions;

    @Mixin
    FirecrackerCompatOptions firecrackerCompat;

    /** The live migration display on a terminal (see {@link MigrationProgress}). */
    @Mixin
    ProgressOption progress = new ProgressOption();

    @Option(
            names = {"--concurrency", "-concurrency"},
            hidden = true)
    Integer concurrency;

    @Option(
            names = {"--rescue-timeout", "-rescue-timeout"},
            hidden = true)
    String rescueTimeout;

    @Override
    public Integer call() throws Exception {
        MigrationProgress progressLine = new MigrationProgress(System.err, progress.on());
        PrintStream out = progressLine.clearing(LogSetup.events(System.out, "peer"));
        if (clean) {
            java.io.PrintWriter w = new java.io.PrintWriter(out, true);
            java.util.List<String> removed = new java.util.ArrayList<>(
                    RunDir.cleanStale(chrootBaseDir.resolve("qemu").toAbsolutePath()));
            removed.addAll(io.drafter.net.Forwarder.clean(new io.drafter.net.CommandRunner()));
            return UntilSignal.printCleaned("drafter peer", w, removed);
        }
        // Every flag is checked, and every address bound, before a VM resumes: a mistake found later would leave a VM
        // that ran for nothing, or devices changed under a failed start.
        var deviceList = DeviceConfigParser.parse(devices, DeviceConfigParser.Use.PEER);
        MigrationSecurity.Resolved secured =
                securityOptions.resolve("drafter peer", !(raddr.isEmpty() && laddr.isEmpty()), !laddr.isEmpty());
        TransportSecurity security = secured.security();
        SharedToken token = secured.token();
        checkNetns(netns);
        InetSocketAddress from = raddr.isEmpty() ? null : resolved(address(raddr, "--raddr"), "--raddr");
        InetSocketAddress listenOn = laddr.isEmpty() ? null : resolved(address(laddr, "--laddr"), "--laddr");
        InetSocketAddress metricsOn = metrics.isEmpty() ? null : resolved(address(metrics, "--metrics"), "--metrics");
        PeerOptions options = new PeerOptions(
                deviceList,
                netns,
                chrootBaseDir.toAbsolutePath(),
                resumeTimeout,
                disablePostcopy,
                security,
                token,
                consoleOptions.console(),
                forwards());
        securityOptions.warnIfInClear("drafter peer", secured);
        QemuVmm vmm = new QemuVmm().runningAs(firecrackerCompat.validate());
        PeerMetrics peerMetrics = metricsOn == null ? PeerMetrics.disabled() : new PeerMetrics();
        PeerState state = new PeerState();
        try (StopSignals stop = StopSignals.install("drafter peer", System.err);
                MigrationListener listener = listenOn == null
                        ? null
                        : MigrationListener.bind(
                                listenOn,
                                security,
                                token,
                                options.plainTcpAllowed(),
                                MigrationListener.Limits.defaults());
                PeerMetrics.Server _ = metricsOn == null ? null : peerMetrics.serve(metricsOn);
                StatusRecord _ = StatusRecord.start("peer", () -> state.record(this, options, listener, metricsOn));
                MigrationProgress _ = progressLine.start(() -> state.peer)) {
            Peer peer;
            long start = System.nanoTime();
            stop.busy(() -> "starting; it stops once the VM is resumed or given back");
            if (from == null) {
                peer = Peer.resumeLocal(options, vmm);
            } else {
                out.println("Migrating from " + raddr);
                state.state = "migrating in from " + raddr;
                peerMetrics.migratingFrom(true);
                try {
                    Connection c = Transport.connect(from, security, Duration.ofSeconds(30));
                    peer = Peer.migrateIn(
                            options,
                            vmm,
                            c,
                            new DestinationPrinter(out, peerMetrics.inListener(), state, progressLine),
                            stop.requested());
                } catch (IOException e) {
                    if (stop.isRequested()) {
                        System.err.println("drafter peer: stopped by "
                                + stop.requested().getNow("") + " before the hand-over; the VM stays at " + raddr
                                + ", nothing of it is kept here");
                        return 0;
                    }
                    throw new IOException(e.getMessage() + "; the VM was not started here", e);
                } finally {
                    peerMetrics.migratingFrom(false);
                }
            }
            // An exit that bypasses the signal handlers (an uncaught error) still saves the VM before anything else.
            ExitActions.Handle exitAction =
                    ExitActions.register(ExitActions.Stage.APPLICATION, "stop peer", peer::stop);
            stop.busy(peer::busyDescription);
            peerMetrics.attach(peer);
            state.peer = peer;
            state.state = "running";
            out.println("Resumed VM in " + peer.lastResume().toMillis() + " ms ("
                    + Duration.ofNanos(System.nanoTime() - start).toMillis() + " ms since start) on "
                    + peer.vm().accel() + "; devices in " + peer.mount().dir());
            if (peer.incoming() != null) {
                Thread.ofVirtual().start(() -> {
                    try {
                        var c = peer.incoming().awaitCompleted(Peer.migrationLimit());
                        out.println("Migration in completed: " + c.blocksReceived() + " blocks received, "
                                + c.readerWaits() + " reads waited for blocks");
                    } catch (Exception e) {
                        System.err.println("drafter peer: migration in did not complete: " + Drafter.oneLine(e));
                    }
                });
            }
            int code = 0;
            if (listener == null) {
                out.println("Running; press Ctrl-C to suspend the VM into its devices and stop");
                stop.requested().join();
            } else {
                out.println("Listening for connections on " + listener.address());
                Events events = new Events(out, peerMetrics, state);
                Peer.Outcome outcome = peer.serve(listener, events, compressionOption.on(), stop.requested());
                state.state = "stopping";
                switch (outcome) {
                    case Peer.Outcome.MigratedAway m -> {
                        SourceCounters counters = m.counters();
                        out.println("Migration completed: " + counters.bytesSent() + " bytes, " + counters.blocksSent()
                                + " blocks sent, " + counters.zeroBlocks() + " zero blocks skipped, "
                                + counters.rounds() + " dirty rounds"
                                + (counters.suspendToAuthority() == null
                                        ? ""
                                        : ", suspend to authority "
                                                + counters.suspendToAuthority().toMillis() + " ms")
                                + events.pausedUntilGrant(peer.pausedAtNanos()));
                    }
                    case Peer.Outcome.HandOverUncertain u -> {
                        String where = peer.stop();
                        exitAction.cancel();
                        System.err.println("drafter peer: the hand-over to " + u.destination() + " is uncertain ("
                                + u.reason() + "): the grant was sent but never confirmed, so the VM stays paused here"
                                + " and is not resumed on its own; " + where + ". If " + u.destination()
                                + " did not start it (its log says so), resume it here with the same --devices and"
                                + " --raddr ''; if it did, it runs there");
                        return 3;
                    }
                    case Peer.Outcome.StopRequested _ -> {}
                }
            }
            state.state = "stopping";
            String where = peer.stop();
            exitAction.cancel();
            if (stop.isRequested()) {
                System.err.println(
                        "drafter peer: stopped by " + stop.requested().getNow("") + "; " + where
                                + (where.startsWith("the VM is suspended")
                                        ? "; resume it with the same --devices and --raddr ''"
                                        : ""));
            }
            return code;
        }
    }

    /** Fails naming the namespace when {@code --netns} names one that does not exist. */
    static void checkNetns(String ns) {
        if (!ns.isEmpty() && !Files.exists(Path.of("/var/run/netns", ns))) {
            throw new IllegalArgumentException("could not use --netns " + ns + ": /var/run/netns/" + ns
                    + " does not exist (create it with drafter nat, or pass --netns '' for a VM without network)");
        }
    }

    /** Fails naming the flag when the host of {@code a} does not resolve. */
    static InetSocketAddress resolved(InetSocketAddress a, String flag) {
        if (a.isUnresolved()) {
            throw new IllegalArgumentException("could not use " + flag + " " + a.getHostString() + ":" + a.getPort()
                    + ": the host name does not resolve");
        }
        return a;
    }

    private java.util.List<io.drafter.net.PortForward> forwards() {
        return portForwards.isBlank() ? java.util.List.of() : io.drafter.net.PortForward.parseList(portForwards);
    }

    static InetSocketAddress address(String hostPort, String flag) {
        int colon = hostPort.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("could not use " + flag + " " + hostPort + ": expected HOST:PORT");
        }
        String host = hostPort.substring(0, colon);
        int port;
        try {
            port = Integer.parseInt(hostPort.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("could not use " + flag + " " + hostPort + ": port is not a number");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("could not use " + flag + " " + hostPort + ": port out of range");
        }
        return new InetSocketAddress(host.isEmpty() ? "0.0.0.0" : host, port);
    }

    /** Prints a migration out: its start, phases, dirty rounds, and a failure after which the VM runs here again. */
    private record Events(
            PrintStream out, PeerMetrics metrics, PeerState state, SourceListener measured, AtomicLong grantedAt)
            implements Peer.Events {
        Events(PrintStream out, PeerMetrics metrics, PeerState state) {
            this(out, metrics, state, metrics.outListener(), new AtomicLong());
        }

        /**
         * ", the VM paused N ms here until the grant": from the VM's pause ({@code pausedAtNanos}) to the GRANT of the
         * last migration out, both clocked in this process; "" if there was none.
         */
        String pausedUntilGrant(long pausedAtNanos) {
            long granted = grantedAt.get();
            if (pausedAtNanos == 0 || granted <= pausedAtNanos) {
                return "";
            }
            return ", the VM paused " + (granted - pausedAtNanos) / 1_000_000 + " ms here until the grant";
        }

        @Override
        public void migrationStarted(String destination) {
            metrics.migratingTo(true);
            state.outTo = destination;
            state.state = "migrating out to " + destination;
            out.println("Migrating to " + destination);
        }

        @Override
        public void backedUp(String destination, SourceCounters counters, Duration paused) {
            metrics.migratingTo(false);
            state.state = "running";
            out.println("Backed up to " + destination + " (" + counters.bytesSent() + " bytes); the VM paused for "
                    + paused.toMillis() + " ms and runs on here");
            out.println("Listening for connections again");
        }

        @Override
        public void migrationFailed(String destination, String reason) {
            metrics.migratingTo(false);
            state.state = "running";
            System.err.println("drafter peer: migration to " + destination + " failed before the hand-over: " + reason
                    + "; the VM runs here again");
            out.println("Listening for connections again");
        }

        @Override
        public void onPhase(SourcePhase from, SourcePhase to, Duration timeInFrom) {
            if (to == SourcePhase.GRANTED) {
                grantedAt.set(System.nanoTime());
            }
            measured.onPhase(from, to, timeInFrom);
            out.println("Migration out: " + from + " -> " + to + " (" + timeInFrom.toMillis() + " ms)");
            if (to == SourcePhase.COMPLETED) {
                metrics.migratingTo(false);
            }
        }

        @Override
        public void onDirtyRound(String device, int round, int dirtyBlocks, boolean last) {
            measured.onDirtyRound(device, round, dirtyBlocks, last);
            if (dirtyBlocks > 0 || last) {
                out.println("  " + device + ": round " + round + ", " + dirtyBlocks + " dirty blocks"
                        + (last ? " (final)" : ""));
            }
        }

        @Override
        public void onPriorityRequest(String device, long block) {
            measured.onPriorityRequest(device, block);
        }

        @Override
        public void onDeviceReady(String device, int rounds) {
            measured.onDeviceReady(device, rounds);
        }

        @Override
        public void onFailed(io.drafter.migration.MigrationException e) {
            measured.onFailed(e);
        }
    }

    /** Prints a migration in phase by phase, and tells {@code measured} all it hears. */
    private record DestinationPrinter(
            PrintStream out, DestinationListener measured, PeerState state, MigrationProgress progress)
            implements DestinationListener {
        @Override
        public void onProgress(String device, long presentBlocks, long totalBlocks) {
            measured.onProgress(device, presentBlocks, totalBlocks);
            progress.onProgress(device, presentBlocks, totalBlocks);
        }

        @Override
        public void onMissingBlock(String device, long block) {
            measured.onMissingBlock(device, block);
        }

        @Override
        public void onFailed(io.drafter.migration.MigrationException e) {
            measured.onFailed(e);
        }

        @Override
        public void onPhase(DestinationPhase from, DestinationPhase to, Duration timeInFrom) {
            measured.onPhase(from, to, timeInFrom);
            state.inPhase = to.name().toLowerCase(java.util.Locale.ROOT);
            out.println("Migration in: " + from + " -> " + to + " (" + timeInFrom.toMillis() + " ms)");
        }
    }

    /** What {@code drafter status} shows of this peer (see {@link StatusRecord}); written by the command's threads. */
    static final class PeerState {
        volatile String state = "starting";
        volatile Peer peer;
        volatile String inPhase;
        volatile String outTo;

        java.util.Map<String, Object> record(
                PeerCommand c, PeerOptions options, MigrationListener listener, InetSocketAddress metricsOn) {
            java.util.Map<String, Object> r = new java.util.LinkedHashMap<>();
            // The state first: it is set after the peer, so a state that says "running" comes with its peer.
            String st = state;
            Peer p = peer;
            r.put("state", st);
            r.put("netns", options.netns());
            r.put("runDir", p == null ? null : p.runDir().toString());
            java.util.Map<String, Object> vm = new java.util.LinkedHashMap<>();
            vm.put("state", p == null ? "none" : p.vmState());
            var instance = p == null ? null : p.vm();
            if (instance != null) {
                vm.put("pid", instance.pid());
                vm.put("accel", String.valueOf(instance.accel()).toLowerCase(java.util.Locale.ROOT));
                vm.put("memoryMiB", instance.config().memorySizeMiB());
                vm.put("vcpus", instance.config().vcpus());
            }
            r.put("vm", vm);
            java.util.Map<String, Object> listeners = new java.util.LinkedHashMap<>();
            if (listener != null) {
                listeners.put("migration", hostPort(listener.address()));
            }
            if (metricsOn != null) {
                listeners.put("metrics", hostPort(metricsOn));
            }
            r.put("listeners", listeners);
            java.util.List<Object> migrations = new java.util.ArrayList<>();
            var out = p == null ? null : p.outgoing();
            if (out != null && !out.phase().terminal()) {
                java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                m.put("direction", "out");
                m.put("peer", outTo);
                m.put("phase", out.phase().name().toLowerCase(java.util.Locale.ROOT));
                m.put("bytes", out.counters().bytesSent());
                migrations.add(m);
            }
            var in = p == null ? null : p.incoming();
            String inNow = in != null ? in.phase().name().toLowerCase(java.util.Locale.ROOT) : inPhase;
            if (c != null
                    && c.raddr != null
                    && !c.raddr.isEmpty()
                    && inNow != null
                    && !inNow.equals("completed")
                    && !inNow.equals("failed")) {
                java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                m.put("direction", "in");
                m.put("peer", c.raddr);
                m.put("phase", inNow);
                if (in != null) {
                    m.put("bytes", in.counters().bytesReceived());
                }
                migrations.add(m);
            }
            r.put("migrations", migrations);
            r.put(
                    "forwards",
                    options.portForwards().stream()
                            .map(f ->
                                    f.externalAddr() + " -> " + f.netns() + ":" + f.internalPort() + "/" + f.protocol())
                            .toList());
            r.put(
                    "mounts",
                    p == null || p.mount() == null
                            ? java.util.List.of()
                            : java.util.List.of(p.mount().dir().toString()));
            return r;
        }

        private static String hostPort(InetSocketAddress a) {
            return a.getHostString() + ":" + a.getPort();
        }
    }
}
