package io.drafter.cli;

import io.drafter.linux.ExitActions;
import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.PemTls;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.peer.Peer;
import io.drafter.peer.PeerMetrics;
import io.drafter.peer.PeerOptions;
import io.drafter.storage.config.DeviceConfigParser;
import io.drafter.vm.Console;
import io.drafter.vm.qemu.QemuVmm;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code drafter peer}: Drafter's peer with its flags and {@code --devices} JSON. Resumes a VM from package files
 * ({@code --raddr ''}) or migrates it in from another peer ({@code --raddr HOST:PORT}); with {@code --laddr} it then
 * waits for one peer to connect and migrates the VM there. Migrations are authenticated: a shared token
 * ({@code --token-file}), TLS with client certificates ({@code --tls-*}), or, only when asked for, plain TCP.
 */
@Command(
        name = "peer",
        mixinStandardHelpOptions = true,
        description = "Run a VM from a package and live-migrate it to and from other peers.")
public final class PeerCommand implements Callable<Integer> {
    static final String DEFAULT_DEVICES;

    static {
        StringBuilder b = new StringBuilder("[");
        String[][] files = {
            {"state", "state.bin"}, {"memory", "memory.bin"}, {"kernel", "vmlinux"},
            {"disk", "rootfs.ext4"}, {"config", "config.json"}, {"oci", "oci.ext4"}
        };
        for (String[] f : files) {
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

    @Option(names = "--token-file", description = "File with the shared migration token (at least 16 bytes).")
    Path tokenFile;

    @Option(names = "--tls-cert", description = "PEM certificate chain of this peer (TLS 1.3, mutual).")
    Path tlsCert;

    @Option(names = "--tls-key", description = "PEM PKCS#8 private key of this peer.")
    Path tlsKey;

    @Option(names = "--tls-ca", description = "PEM CA certificate(s) that the other peer's certificate must chain to.")
    Path tlsCa;

    @Option(
            names = "--insecure-plain-tcp",
            description = "Migrate over plain TCP with neither token nor TLS (trusted networks only).")
    boolean insecurePlainTcp;

    @Option(
            names = "--port-forwards",
            defaultValue = "",
            description = "Drafter forwarder JSON: host addresses forwarded to the guest while the VM runs here"
                    + " (installed at resume, removed at suspend, so a migration moves them).")
    String portForwards;

    @Option(names = "--compression", defaultValue = "true", arity = "0..1", description = "zstd on block data.")
    boolean compression;

    // Accepted for compatibility with Drafter's command line; they mean nothing here.
    @Mixin
    ConsoleOptions consoleOptions;

    @Mixin
    FirecrackerCompatOptions firecrackerCompat;

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
        PrintStream out = System.out;
        var deviceList = DeviceConfigParser.parse(devices, DeviceConfigParser.Use.PEER);
        TransportSecurity security = security();
        SharedToken token = tokenFile == null ? null : SharedToken.fromFile(tokenFile);
        Console console = consoleOptions.console();
        Path runDir = chrootBaseDir
                .resolve("qemu")
                .resolve(UUID.randomUUID().toString())
                .toAbsolutePath();
        PeerOptions options = new PeerOptions(
                deviceList, netns, runDir, resumeTimeout, disablePostcopy, security, token, console, forwards());
        QemuVmm vmm = new QemuVmm();
        PeerMetrics peerMetrics = new PeerMetrics();
        try (PeerMetrics.Server _ = metrics.isEmpty() ? null : peerMetrics.serve(address(metrics, "--metrics"))) {
            Peer peer;
            long start = System.nanoTime();
            if (raddr.isEmpty()) {
                peer = Peer.resumeLocal(options, vmm);
            } else {
                out.println("Migrating from " + raddr);
                Connection c = Transport.connect(address(raddr, "--raddr"), security, Duration.ofSeconds(30));
                peerMetrics.migratingFrom(true);
                peer = Peer.migrateIn(options, vmm, c, new DestinationListener() {
                    @Override
                    public void onPhase(DestinationPhase from, DestinationPhase to, Duration timeInFrom) {
                        out.println("Migration in: " + from + " -> " + to + " (" + timeInFrom.toMillis() + " ms)");
                    }
                });
            }
            // SIGTERM or Ctrl-C: suspend the VM into its devices before the mount and QEMU go (one ordered exit).
            ExitActions.Handle hook = ExitActions.register(ExitActions.Stage.APPLICATION, "stop peer", peer::close);
            peerMetrics.attach(peer);
            out.println("Resumed VM in " + peer.lastResume().toMillis() + " ms ("
                    + Duration.ofNanos(System.nanoTime() - start).toMillis() + " ms since start) on "
                    + peer.vm().accel() + "; devices in " + peer.mount().dir());
            if (peer.incoming() != null) {
                Thread.ofVirtual().start(() -> {
                    try {
                        var c = peer.incoming().awaitCompleted(Peer.migrationLimit());
                        peerMetrics.migratingFrom(false);
                        out.println("Migration in completed: " + c.blocksReceived() + " blocks received, "
                                + c.readerWaits() + " reads waited for post-copy blocks");
                    } catch (Exception e) {
                        System.err.println("drafter: migration in failed after resume: " + Drafter.oneLine(e));
                    }
                });
            }
            if (laddr.isEmpty()) {
                out.println("Running; press Ctrl-C to suspend the VM into its devices and stop");
                new CountDownLatch(1).await();
                return 0;
            }
            try (Transport.ConnectionListener listener = Transport.listen(address(laddr, "--laddr"), security)) {
                out.println("Listening for connections on " + listener.address());
                Connection c = listener.accept(Duration.ofDays(365));
                out.println("Migrating to " + c.peer());
                peerMetrics.migratingTo(true);
                MigrationSource source = peer.migrateOut(c, new ProgressPrinter(out), compression);
                SourceCounters counters;
                try {
                    counters = source.awaitCompleted(Peer.migrationLimit());
                } catch (Exception e) {
                    peerMetrics.migratingTo(false);
                    if (peer.recoverAfterFailedMigration(source, e)) {
                        System.err.println("drafter: migration failed, the VM runs here again: " + Drafter.oneLine(e));
                        out.println("Running; press Ctrl-C to suspend the VM into its devices and stop");
                        new CountDownLatch(1).await();
                        return 1;
                    }
                    throw e;
                }
                peerMetrics.migratingTo(false);
                peer.migratedAway();
                out.println("Migration completed: " + counters.bytesSent() + " bytes, " + counters.blocksSent()
                        + " blocks sent, " + counters.zeroBlocks() + " zero blocks skipped, " + counters.rounds()
                        + " dirty rounds"
                        + (counters.suspendToAuthority() == null
                                ? ""
                                : ", suspend to authority "
                                        + counters.suspendToAuthority().toMillis() + " ms"));
                peer.close();
                hook.cancel();
                return 0;
            }
        }
    }

    private java.util.List<io.drafter.net.PortForward> forwards() {
        return portForwards.isBlank() ? java.util.List.of() : io.drafter.net.PortForward.parseList(portForwards);
    }

    private TransportSecurity security() throws Exception {
        boolean anyTls = tlsCert != null || tlsKey != null || tlsCa != null;
        if (anyTls) {
            if (tlsCert == null || tlsKey == null || tlsCa == null) {
                throw new IllegalArgumentException(
                        "could not set up TLS: --tls-cert, --tls-key and --tls-ca go together");
            }
            return TransportSecurity.tls(PemTls.context(tlsCert, tlsKey, tlsCa));
        }
        if (tokenFile == null && !insecurePlainTcp && !(raddr.isEmpty() && laddr.isEmpty())) {
            throw new IllegalArgumentException(
                    "could not secure the migration: give --token-file, --tls-cert/--tls-key/"
                            + "--tls-ca, or --insecure-plain-tcp to migrate without authentication");
        }
        return TransportSecurity.plainTcp();
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

    /** Prints migration progress lines. */
    private record ProgressPrinter(PrintStream out) implements SourceListener {
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
}
