package io.drafter.cli;

import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.Transport;
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
import picocli.CommandLine.Mixin;
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
            names = {"--live-backup", "-live-backup"},
            description = "Back the VM up instead: it pauses only for a consistent cut (suspend, the blocks of that"
                    + " moment sent), then runs on at the peer; the files are a package of the cut.")
    boolean liveBackup;

    @Mixin
    MigrationSecurity securityOptions = new MigrationSecurity();

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
        MigrationSecurity.Resolved secured = securityOptions.resolve("drafter terminator", true, false);
        securityOptions.warnIfInClear("drafter terminator", secured);
        try (StopSignals stop = StopSignals.install("drafter terminator", System.err)) {
            stop.busy(() -> liveBackup
                    ? "backing the VM up; stopping leaves the outputs as they were"
                    : "taking the VM; stopping gives it back to the peer, which resumes it");
            out.println((liveBackup ? "Backing up the VM of " : "Terminating the migration chain of ") + raddr);
            Connection c = Transport.connect(from, secured.security(), Duration.ofSeconds(30));
            Terminator.Result r = Terminator.run(
                    c, outputs, secured.token(), secured.plainTcpAllowed(), liveBackup, phases(out), stop.requested());
            out.println((liveBackup
                            ? "Wrote a live backup of the VM (it runs on at " + raddr + ") in "
                            : "Wrote the" + " VM's package in ")
                    + r.took().toMillis() + " ms (" + r.counters().bytesReceived() + " bytes received); resume it"
                    + " with drafter peer or drafter runner:");
            r.files().forEach((name, path) -> out.println("  " + name + "\t" + path));
            return 0;
        }
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
