package io.drafter.cli;

import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.PemTls;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.peer.Terminator;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.config.DeviceConfigParser;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code drafter terminator}: Drafter's terminator, the end of a migration chain. It connects to a peer's {@code
 * --laddr}, takes its running VM's devices into plain files (the VM suspended into them at the source) and never runs
 * the VM: the source's VM stops there, and the files are a package that {@code drafter peer} or {@code drafter runner}
 * resumes where it stopped. Outputs change only once the whole package is on disk.
 */
@Command(
        name = "terminator",
        description = "Take a running VM's devices from a peer into files (a resumable package); the VM stops there.")
public final class TerminatorCommand implements Callable<Integer> {
    static final String DEFAULT_DEVICES = "[{\"name\":\"state\",\"output\":\"out/package/state.bin\"},"
            + "{\"name\":\"memory\",\"output\":\"out/package/memory.bin\"},"
            + "{\"name\":\"kernel\",\"output\":\"out/package/vmlinux\"},"
            + "{\"name\":\"disk\",\"output\":\"out/package/rootfs.ext4\"},"
            + "{\"name\":\"config\",\"output\":\"out/package/config.json\"},"
            + "{\"name\":\"oci\",\"output\":\"out/package/oci.ext4\"}]";

    @Option(
            names = {"--devices", "-devices"},
            defaultValue = DEFAULT_DEVICES,
            description = "JSON list of {name, output}: where each device of the VM goes.")
    String devices;

    @Option(
            names = {"--raddr", "-raddr"},
            defaultValue = "localhost:1337",
            description = "The peer to take the VM from: its --laddr.")
    String raddr;

    @Option(
            names = {"--token-file", "-token-file"},
            description = "Shared migration token of the peer (default: $DRAFTER_TOKEN_FILE, else "
                    + PeerCommand.DEFAULT_TOKEN_FILE + ").")
    Path tokenFile;

    @Option(
            names = {"--tls-cert", "-tls-cert"},
            description = "PEM certificate chain of this side (TLS 1.3, mutual).")
    Path tlsCert;

    @Option(
            names = {"--tls-key", "-tls-key"},
            description = "PEM PKCS#8 private key of this side.")
    Path tlsKey;

    @Option(
            names = {"--tls-ca", "-tls-ca"},
            description = "PEM CA certificate(s) that the peer's certificate must chain to.")
    Path tlsCa;

    @Option(
            names = {"--insecure-plain-tcp", "-insecure-plain-tcp"},
            description = "Migrate over plain TCP with neither token nor TLS (trusted networks only).")
    boolean insecurePlainTcp;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        Map<String, Path> outputs = new LinkedHashMap<>();
        for (DeviceConfig d : DeviceConfigParser.parse(devices, DeviceConfigParser.Use.SNAPSHOTTER)) {
            Path o = d.output().orElseThrow();
            if (Files.isDirectory(o)) {
                throw new IllegalArgumentException(
                        "could not use --devices: the output of \"" + d.name() + "\", " + o + ", is a directory");
            }
            outputs.put(d.name(), o);
        }
        if (raddr.isBlank()) {
            throw new IllegalArgumentException("could not use --raddr '': give the peer's HOST:PORT");
        }
        InetSocketAddress from = PeerCommand.resolved(PeerCommand.address(raddr, "--raddr"), "--raddr");
        TransportSecurity security;
        SharedToken token = null;
        if (tlsCert != null || tlsKey != null || tlsCa != null) {
            if (tlsCert == null || tlsKey == null || tlsCa == null) {
                throw new IllegalArgumentException(
                        "could not set up TLS: --tls-cert, --tls-key and --tls-ca go together");
            }
            security = TransportSecurity.tls(PemTls.context(tlsCert, tlsKey, tlsCa));
        } else {
            security = TransportSecurity.plainTcp();
            if (tokenFile != null) {
                token = PeerCommand.token(tokenFile);
            } else if (!insecurePlainTcp) {
                token = PeerCommand.token(hostToken());
            } else {
                System.err.println("drafter terminator: WARNING: the migration is neither authenticated nor"
                        + " encrypted (--insecure-plain-tcp); use it only on a network you trust");
            }
        }
        try (StopSignals stop = StopSignals.install("drafter terminator", System.err)) {
            stop.busy(() -> "taking the VM; stopping gives it back to the peer, which resumes it");
            out.println("Terminating the migration chain of " + raddr);
            Connection c = Transport.connect(from, security, Duration.ofSeconds(30));
            Terminator.Result r = Terminator.run(c, outputs, token, insecurePlainTcp, phases(out), stop.requested());
            out.println("Wrote the VM's package in " + r.took().toMillis() + " ms ("
                    + r.counters().bytesReceived() + " bytes received); resume it with drafter peer or drafter"
                    + " runner:");
            r.files().forEach((name, path) -> out.println("  " + name + "\t" + path));
            return 0;
        }
    }

    /** The host's default migration token, which the listening peer created: a terminator never creates one. */
    private static Path hostToken() {
        String env = System.getenv("DRAFTER_TOKEN_FILE");
        Path file = Path.of(env == null || env.isBlank() ? PeerCommand.DEFAULT_TOKEN_FILE : env);
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("could not secure the migration: give --token-file, --tls-cert/"
                    + "--tls-key/--tls-ca or --insecure-plain-tcp, or copy the peer host's " + file + " here");
        }
        System.err.println("drafter terminator: authenticating and encrypting the migration with the token in " + file);
        return file;
    }

    private static DestinationListener phases(PrintStream out) {
        return new DestinationListener() {
            @Override
            public void onPhase(DestinationPhase from, DestinationPhase to, Duration timeInFrom) {
                out.println("Migration in: " + from + " -> " + to + " (" + timeInFrom.toMillis() + " ms)");
            }
        };
    }
}
