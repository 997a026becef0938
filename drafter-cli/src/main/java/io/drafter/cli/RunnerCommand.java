package io.drafter.cli;

import io.drafter.migration.transport.TransportSecurity;
import io.drafter.peer.Peer;
import io.drafter.peer.PeerOptions;
import io.drafter.storage.DeviceStack;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.config.DeviceConfigParser;
import io.drafter.vm.qemu.QemuVmm;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code drafter runner}: Drafter's runner. Resumes a package from its files, with no migration listener, and on SIGINT
 * or SIGTERM suspends the VM back into them, so the next run continues where this one stopped. With {@code
 * --experimental-map-private} the package's state and memory files are left as they are: the VM runs on private copies
 * of them, written at the suspend to the {@code --experimental-map-private-*-output} paths (or back into the package
 * files when those are empty, as Drafter does).
 */
@Command(
        name = "runner",
        description = "Resume a package locally (no migration); suspend it back into its files on SIGINT/SIGTERM.")
public final class RunnerCommand implements Callable<Integer> {
    static final String DEFAULT_DEVICES = "[{\"name\":\"state\",\"path\":\"out/package/state.bin\"},"
            + "{\"name\":\"memory\",\"path\":\"out/package/memory.bin\"},"
            + "{\"name\":\"kernel\",\"path\":\"out/package/vmlinux\"},"
            + "{\"name\":\"disk\",\"path\":\"out/package/rootfs.ext4\"},"
            + "{\"name\":\"config\",\"path\":\"out/package/config.json\"},"
            + "{\"name\":\"oci\",\"path\":\"out/blueprint/oci.ext4\"}]";

    @Option(
            names = {"--devices", "-devices"},
            defaultValue = DEFAULT_DEVICES,
            description = "JSON list of {name, path, shared} (Drafter's runner format).")
    String devices;

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
            names = {"--chroot-base-dir", "-chroot-base-dir"},
            defaultValue = "out/vms",
            description = "Base of the instance directory.")
    Path chrootBaseDir;

    @Option(
            names = {"--experimental-map-private", "-experimental-map-private"},
            arity = "0..1",
            defaultValue = "false",
            description = "Run on private copies of the state and memory files.")
    boolean mapPrivate;

    @Option(
            names = {"--experimental-map-private-state-output", "-experimental-map-private-state-output"},
            defaultValue = "",
            description = "With map-private: where the state goes at the suspend ('' = back into its file).")
    String stateOutput;

    @Option(
            names = {"--experimental-map-private-memory-output", "-experimental-map-private-memory-output"},
            defaultValue = "",
            description = "With map-private: where the memory goes at the suspend ('' = back into its file).")
    String memoryOutput;

    @Option(
            names = {"--rescue-timeout", "-rescue-timeout"},
            defaultValue = "5s",
            converter = GoDuration.class,
            description = "Accepted for Drafter's command line: a failed resume here never changes the files.")
    Duration rescueTimeout;

    @Mixin
    ConsoleOptions consoleOptions;

    @Mixin
    FirecrackerCompatOptions firecrackerCompat;

    @Override
    public Integer call() throws Exception {
        PrintStream out = LogSetup.events(System.out, "runner");
        List<DeviceConfig> files = DeviceConfigParser.parse(devices, DeviceConfigParser.Use.PACKAGER);
        PeerCommand.checkNetns(netns);
        Path base = chrootBaseDir.toAbsolutePath();
        Path privateDir = base.resolve("runner-" + UUID.randomUUID());
        List<DeviceConfig> peerDevices = new ArrayList<>();
        for (DeviceConfig f : files) {
            Path path = f.path().orElseThrow();
            if (!Files.isRegularFile(path)) {
                throw new IllegalArgumentException(
                        "could not open device \"" + f.name() + "\": " + path + " does not exist");
            }
            boolean copy =
                    mapPrivate && (f.name().equals(Peer.STATE) || f.name().equals(Peer.MEMORY));
            peerDevices.add(new DeviceConfig(
                    f.name(),
                    Optional.of(path),
                    copy ? List.of(privateDir.resolve(f.name() + ".overlay")) : List.of(),
                    copy ? List.of(privateDir.resolve(f.name() + ".state")) : List.of(),
                    f.blockSizeBytes(),
                    f.expiry(),
                    f.maxDirtyBlocks(),
                    f.minCycles(),
                    f.maxCycles(),
                    f.cycleThrottle(),
                    false,
                    f.shared(),
                    false,
                    Optional.empty(),
                    Optional.empty(),
                    Optional.empty()));
        }
        PeerOptions options = new PeerOptions(
                peerDevices,
                netns,
                base,
                resumeTimeout,
                false,
                TransportSecurity.plainTcp(),
                null,
                consoleOptions.console(),
                List.of());
        QemuVmm vmm = new QemuVmm().runningAs(firecrackerCompat.validate());
        PeerCommand.PeerState state = new PeerCommand.PeerState();
        try (StopSignals stop = StopSignals.install("drafter runner", System.err);
                StatusRecord _ = StatusRecord.start("runner", () -> state.record(null, options, null, null))) {
            stop.busy(() -> "starting; it stops once the VM is resumed");
            long start = System.nanoTime();
            Peer peer = Peer.resumeLocal(options, vmm);
            state.peer = peer;
            state.state = "running";
            stop.busy(peer::busyDescription);
            out.println("Resumed VM in " + peer.lastResume().toMillis() + " ms ("
                    + Duration.ofNanos(System.nanoTime() - start).toMillis() + " ms since start) on "
                    + peer.vm().accel());
            out.println("Running; press Ctrl-C to suspend the VM into its devices and stop");
            stop.requested().join();
            state.state = "stopping";
            String where = peer.stop();
            if (mapPrivate) {
                where = writePrivateCopies(peerDevices, privateDir);
            }
            System.err.println("drafter runner: stopped by " + stop.requested().getNow("") + "; " + where
                    + "; the same command resumes it");
            return 0;
        } finally {
            deleteTree(privateDir);
        }
    }

    /** Writes the suspended state and memory from the private copies to their outputs; returns where they went. */
    private String writePrivateCopies(List<DeviceConfig> peerDevices, Path privateDir) throws IOException {
        List<String> written = new ArrayList<>();
        for (DeviceConfig d : peerDevices) {
            if (d.overlays().isEmpty()) {
                continue;
            }
            String output = d.name().equals(Peer.STATE) ? stateOutput : memoryOutput;
            Path target = output.isEmpty() ? d.base().orElseThrow() : Path.of(output);
            try (DeviceStack s = DeviceStack.open(d, false, 0, null)) {
                copy(s, target);
            }
            written.add(d.name() + " in " + target);
        }
        return "the VM is suspended: " + String.join(", ", written) + "; the other devices in their files";
    }

    private static void copy(DeviceStack from, Path to) throws IOException {
        Path tmp = to.resolveSibling(
                "." + to.getFileName() + ".partial-" + ProcessHandle.current().pid());
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            long size = from.top().sizeBytes();
            for (long off = 0; off < size; ) {
                buf.clear().limit((int) Math.min(buf.capacity(), size - off));
                int n = from.top().read(buf, off);
                if (n <= 0) {
                    throw new IOException("could not copy the private copy to " + to + ": short read at " + off);
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    ch.write(buf, off + buf.position());
                }
                off += n;
            }
            ch.force(true);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(
                tmp,
                to,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            System.err.println("drafter runner: could not remove " + dir + ": " + e.getMessage());
        }
    }
}
