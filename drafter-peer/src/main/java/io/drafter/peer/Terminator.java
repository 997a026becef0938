package io.drafter.peer;

import io.drafter.migration.destination.DestinationCounters;
import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.source.FileBlockDevice;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The end of a migration chain, as Drafter's {@code drafter-terminator}: a migration destination whose devices are
 * plain files and which never runs the VM. It takes every block of a peer's VM (the VM suspended into its devices at
 * the source), makes the files durable, and only then confirms the hand-over: the source's VM stops there for good and
 * a package that {@code drafter peer} resumes stays on disk.
 *
 * <p>Files are written beside their outputs under temporary names and moved over them at the end, so a migration that
 * fails (before the hand-over, the source's VM runs on) leaves every output as it was. After the grant, a failure to
 * make the files durable gives the VM back to the source ({@code ABORTED}), which resumes it.
 *
 * <p>A live backup (Drafter has none) takes the same cut but no hand-over: the source resumes its VM as soon as it has
 * sent the last block of the cut and keeps it; the files are a package of that moment. A failure then costs the backup
 * only.
 */
public final class Terminator {
    private static final System.Logger LOG = System.getLogger(Terminator.class.getName());

    /** What a terminated migration wrote. */
    public record Result(Map<String, Path> files, DestinationCounters counters, Duration took) {}

    private final Map<String, Path> outputs;
    private final Map<String, Path> partial = new LinkedHashMap<>();
    private final Map<String, BlockDevice> opened = new LinkedHashMap<>();

    private Terminator(Map<String, Path> outputs) {
        this.outputs = Map.copyOf(outputs);
    }

    /**
     * Takes the VM migrating out of the peer on {@code connection} into the files {@code outputs} names (device name to
     * path); every device the source sends must be there. Returns once the source confirmed the hand-over.
     *
     * @param stop completing it before the hand-over gives the VM back to the source
     * @throws IOException if the migration failed; then no output was changed and the source runs the VM on
     */
    public static Result run(
            Connection connection,
            Map<String, Path> outputs,
            SharedToken token,
            boolean plainTcpAllowed,
            DestinationListener listener,
            CompletableFuture<?> stop)
            throws IOException, InterruptedException {
        return run(connection, outputs, token, plainTcpAllowed, false, listener, stop);
    }

    /**
     * As {@link #run(Connection, Map, SharedToken, boolean, DestinationListener, CompletableFuture)}; with {@code
     * liveBackup} the peer's VM is only paused for the cut (suspended into its devices, every block of that moment
     * sent), then runs on at the peer, which keeps it: the files are a package that resumes to the cut.
     */
    public static Result run(
            Connection connection,
            Map<String, Path> outputs,
            SharedToken token,
            boolean plainTcpAllowed,
            boolean liveBackup,
            DestinationListener listener,
            CompletableFuture<?> stop)
            throws IOException, InterruptedException {
        Terminator t = new Terminator(outputs);
        long start = System.nanoTime();
        DestinationOptions options = DestinationOptions.defaults()
                .withToken(token)
                .withPlainTcpAllowed(plainTcpAllowed)
                .withWaitForAllBlocks(true)
                .withCopyOnly(liveBackup)
                .withExplicitTakeover(true);
        MigrationDestination in = MigrationDestination.accept(connection, t.storage(), options, listener);
        CompletableFuture<?> aborter = MigrationsIn.abortOnStop(in, stop);
        boolean done = false;
        try {
            DestinationCounters counters = MigrationsIn.takeOver(
                    in,
                    aborter,
                    t::commit,
                    e -> "could not write the package: " + e.getMessage() + "; the VM runs on at the source");
            done = true;
            return new Result(t.outputs, counters, Duration.ofNanos(System.nanoTime() - start));
        } finally {
            aborter.cancel(false);
            if (!done) {
                t.discardAll();
            }
        }
    }

    /** Files beside each output, created when the source announces its devices. */
    private DestinationStorage storage() {
        return new DestinationStorage() {
            @Override
            public void prepare(List<DeviceSpec> specs) throws IOException {
                List<SpacePlan.NewFile> files = new ArrayList<>();
                for (DeviceSpec spec : specs) {
                    files.add(new SpacePlan.NewFile(spec.name(), outputFor(spec), spec.sizeBytes(), false));
                }
                SpacePlan.check(files);
            }

            @Override
            public Opened open(DeviceSpec spec) throws IOException {
                Path out = outputFor(spec).toAbsolutePath();
                Files.createDirectories(out.getParent());
                Path tmp = out.resolveSibling("." + out.getFileName() + ".terminating-"
                        + ProcessHandle.current().pid());
                Files.deleteIfExists(tmp);
                synchronized (Terminator.this) {
                    partial.put(spec.name(), tmp);
                }
                FileBlockDevice d = FileBlockDevice.create(tmp, spec.sizeBytes(), spec.blockSizeBytes());
                synchronized (Terminator.this) {
                    opened.put(spec.name(), d);
                }
                return new Opened(d, true);
            }

            @Override
            public void discard(DeviceSpec spec, BlockDevice device) throws IOException {
                device.close();
            }
        };
    }

    private Path outputFor(DeviceSpec spec) throws ProtocolException {
        Path out = outputs.get(spec.name());
        if (out == null) {
            throw new ProtocolException(
                    ErrorCode.DEVICE_MISMATCH,
                    "device \"" + spec.name() + "\" is not in this terminator's --devices (it has "
                            + String.join(", ", outputs.keySet()) + ")");
        }
        return out;
    }

    /** Makes every file durable and moves it over its output. */
    private synchronized void commit() throws IOException {
        for (Map.Entry<String, BlockDevice> e : opened.entrySet()) {
            e.getValue().flush();
            e.getValue().close();
        }
        opened.clear();
        for (Map.Entry<String, Path> e : partial.entrySet()) {
            Path out = outputs.get(e.getKey()).toAbsolutePath();
            Files.move(e.getValue(), out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            syncDirectory(out.getParent());
            LOG.log(System.Logger.Level.DEBUG, "wrote " + e.getKey() + " to " + out);
        }
        partial.clear();
    }

    /** Removes what a failed migration wrote; outputs stay as they were. */
    private synchronized void discardAll() {
        for (BlockDevice d : opened.values()) {
            try {
                d.close();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "could not close " + d + ": " + e.getMessage());
            }
        }
        opened.clear();
        for (Path p : partial.values()) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.WARNING, "could not delete " + p + ": " + e.getMessage());
            }
        }
        partial.clear();
    }

    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
