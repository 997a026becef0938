package io.drafter.cli;

import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.SourceCounters;
import io.drafter.peer.Registry;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.config.DeviceConfigParser;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code drafter registry}: Drafter's registry. Serves a package's devices, read-only, to many peers at once and never
 * runs a VM; a {@code drafter peer --raddr HOST:PORT} pointed at it resumes the VM before the package has arrived and
 * fetches what the VM reads first while the rest streams in.
 */
@Command(
        name = "registry",
        description = "Serve a package's devices read-only to many peers at once; a peer resumes the VM before the"
                + " package has arrived and fetches the rest while it runs.")
public final class RegistryCommand implements Callable<Integer> {
    static final String DEFAULT_DEVICES =
            "[{\"name\":\"state\",\"input\":\"out/package/state.bin\",\"blockSize\":65536},"
                    + "{\"name\":\"memory\",\"input\":\"out/package/memory.bin\",\"blockSize\":65536},"
                    + "{\"name\":\"kernel\",\"input\":\"out/package/vmlinux\",\"blockSize\":65536},"
                    + "{\"name\":\"disk\",\"input\":\"out/package/rootfs.ext4\",\"blockSize\":65536},"
                    + "{\"name\":\"config\",\"input\":\"out/package/config.json\",\"blockSize\":65536},"
                    + "{\"name\":\"oci\",\"input\":\"out/package/oci.ext4\",\"blockSize\":65536}]";
    /** The most peers a registry serves at once: each session runs four threads. */
    static final int MAX_CONCURRENCY = 4096;

    @Option(
            names = {"--devices", "-devices"},
            defaultValue = DEFAULT_DEVICES,
            description = "JSON list of {name, input, blockSize}: the package's files to serve.")
    String devices;

    @Option(
            names = {"--laddr", "-laddr"},
            defaultValue = ":1600",
            description = "Address to listen on for peers (HOST:PORT; an empty host listens on every address).")
    String laddr;

    @Option(
            names = {"--concurrency", "-concurrency"},
            defaultValue = "64",
            description = "Peers served at once; more get BUSY and may dial again (1 to 4096).")
    int concurrency;

    @Mixin
    CompressionOption compressionOption = new CompressionOption();

    @Option(
            names = {"--drain-timeout", "-drain-timeout"},
            defaultValue = "1m",
            converter = GoDuration.class,
            description = "On SIGINT/SIGTERM: how long peers still fetching may finish before they are cut off (their"
                    + " VMs need the rest).")
    Duration drainTimeout;

    @Mixin
    MigrationSecurity securityOptions = new MigrationSecurity();

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        List<Registry.Device> list = new ArrayList<>();
        for (DeviceConfig d : DeviceConfigParser.parse(devices, DeviceConfigParser.Use.REGISTRY)) {
            Path in = d.input().orElseThrow();
            if (!Files.isRegularFile(in)) {
                throw new IllegalArgumentException("could not use --devices: the input of \"" + d.name() + "\", " + in
                        + ", is not a regular file");
            }
            list.add(new Registry.Device(d.name(), in, d.blockSizeBytes()));
        }
        if (concurrency < 1 || concurrency > MAX_CONCURRENCY) {
            throw new IllegalArgumentException(
                    "could not use --concurrency " + concurrency + ": must be 1 to " + MAX_CONCURRENCY);
        }
        if (drainTimeout.isNegative()) {
            throw new IllegalArgumentException("could not use --drain-timeout: must not be negative");
        }
        if (laddr.isBlank()) {
            throw new IllegalArgumentException("could not use --laddr '': give HOST:PORT to listen on");
        }
        InetSocketAddress listenOn = PeerCommand.resolved(PeerCommand.address(laddr, "--laddr"), "--laddr");
        MigrationSecurity.Resolved secured = securityOptions.resolve("drafter registry", true, true);
        securityOptions.warnIfInClear("drafter registry", secured);
        try (StopSignals stop = StopSignals.install("drafter registry", System.err);
                Registry registry = Registry.open(list, compressionOption.on());
                MigrationListener listener = MigrationListener.bind(
                        listenOn,
                        secured.security(),
                        secured.token(),
                        secured.plainTcpAllowed(),
                        MigrationListener.Limits.defaults().withMaxSessions(concurrency),
                        true)) {
            long bytes = registry.devices().values().stream()
                    .mapToLong(BlockDevice::sizeBytes)
                    .sum();
            out.println("Serving " + list.size() + " devices (" + (bytes >> 20) + " MiB) on " + listener.address()
                    + " to at most " + concurrency + " peers at once; press Ctrl-C to stop");
            stop.busy(() -> "letting the peers still fetching finish (up to " + drainTimeout.toSeconds() + " s)");
            int cut = registry.serve(listener, printer(out), stop.requested(), drainTimeout);
            out.println("Stopped after serving " + registry.servedCount() + " peers"
                    + (cut == 0 ? "" : "; " + cut + " still fetching were cut off"));
            return 0;
        }
    }

    private static Registry.Events printer(PrintStream out) {
        return new Registry.Events() {
            @Override
            public void started(String peer) {
                out.println("Serving " + peer);
            }

            @Override
            public void completed(String peer, SourceCounters c, Duration took) {
                out.println(peer + " has every block: " + c.bytesSent() + " bytes in " + took.toMillis() + " ms, "
                        + c.priorityBlocks() + " blocks fetched first");
            }

            @Override
            public void failed(String peer, IOException cause) {
                System.err.println("drafter registry: serving " + peer + " failed: " + Drafter.oneLine(cause));
            }
        };
    }
}
