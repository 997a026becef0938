package io.drafter.peer;

import static io.drafter.peer.Peer.oneLine;

import io.drafter.expose.fuse.DeviceMount;
import io.drafter.expose.fuse.FuseOptions;
import io.drafter.migration.Authority;
import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.source.AuthenticatedDestination;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceDevice;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SuspendHook;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.storage.DeviceStack;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.freeze.FreezableDevice;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

/**
 * Drafter's mounter: block devices without a VM, exposed as files in a FUSE mount (one file per device, which other
 * processes read and write: {@code dd}, {@code mkfs}, a QEMU drive, a peer's {@code shared} device), obtained from
 * local files ({@link #openLocal}) or migrated in from another mounter ({@link #migrateIn}), and migrated on to the next
 * mounter that authenticates ({@link #serve}).
 *
 * <p>Each device is a peer's stack ({@code base ◄ overlays ◄ metrics ◄ dirty ◄ volatility}, see {@link DeviceStack})
 * under a {@link FreezableDevice}, which is what the mount serves. A migration out copies the devices while the files
 * stay writable; its suspend hook freezes them (writers block, they do not fail; writes already under way land first)
 * and flushes them, then the final dirty set, authority and the grant follow. A migration that fails before the grant
 * thaws the devices and the held writes go on; one that completes releases them (they fail, naming where the devices
 * went) and the caller unmounts with {@link #stop()}. A mounter migrating in mounts the files only once the hand-over is
 * granted: before that they do not exist here.
 *
 * <p>Writes through a shared {@code mmap} of a device file stay in the kernel's page cache until {@code msync}, {@code
 * fsync} or writeback: a migration carries only what reached the device, so such writers must {@code msync} before the
 * hand-over (plain {@code write(2)} goes straight to the device: the mount uses direct I/O).
 *
 * <p><b>Note:</b> one controlling thread at a time; the migration engines call the suspend hook from their own threads.
 * {@link #stop()} is idempotent.
 */
public final class Mounter implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Mounter.class.getName());

    /**
     * How a mounter runs.
     *
     * @param devices the devices, as parsed from {@code --devices} (each needs a {@code base})
     * @param mountDir where the device files appear ({@code <mountDir>/<name>}); must be missing or an empty directory
     * @param token a shared token both sides of a migration must prove, or {@code null}
     * @param plainTcpAllowed whether a migration may go over plain TCP without a token
     * @param compression zstd on block data when the destination agrees
     */
    public record Options(
            List<DeviceConfig> devices,
            Path mountDir,
            SharedToken token,
            boolean plainTcpAllowed,
            boolean compression) {
        public Options {
            devices = List.copyOf(devices);
            Objects.requireNonNull(mountDir, "mountDir");
            if (devices.isEmpty()) {
                throw new IllegalArgumentException("could not start mounter: --devices lists no device");
            }
        }

        /** The configuration of device {@code name}, or {@code null}. */
        public DeviceConfig device(String name) {
            return devices.stream()
                    .filter(d -> d.name().equals(name))
                    .findFirst()
                    .orElse(null);
        }
    }

    private final Options options;
    private final Path mountDir;
    private final Map<String, DeviceStack> stacks = new LinkedHashMap<>();
    private final Map<String, FreezableDevice> exposed = new LinkedHashMap<>();
    /** Files and directories this mounter created; removed again if its start fails. */
    private final List<Path> created = new ArrayList<>();

    private DeviceMount mount;
    private Path createdMountDir;
    private MigrationDestination incoming;
    private volatile MigrationSource outgoing;
    private String migratedTo;
    private boolean stopped;
    private String stoppedWhere;

    private Mounter(Options options) throws IOException {
        this.options = options;
        this.mountDir = options.mountDir().toAbsolutePath().normalize();
        checkMountDir(mountDir);
    }

    /**
     * Fails naming the directory unless it is missing or an empty directory (a mount would hide what it holds). A stale
     * mount of a killed mounter or peer there is unmounted first; a live one is refused.
     */
    private static void checkMountDir(Path dir) throws IOException {
        Path parent = dir.getParent();
        if (parent != null && Files.isDirectory(parent)) {
            DeviceMount.cleanStale(dir);
        }
        if (!Files.exists(dir)) {
            return;
        }
        if (!Files.isDirectory(dir)) {
            throw new IOException("could not use mount directory " + dir + ": it is not a directory");
        }
        try (Stream<Path> s = Files.list(dir)) {
            if (s.findAny().isPresent()) {
                throw new IOException("could not use mount directory " + dir
                        + ": it is not empty (a mount there would hide what it holds)");
            }
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("could not use")) {
                throw e;
            }
            throw new IOException("could not use mount directory " + dir + ": " + oneLine(e), e);
        }
    }

    /**
     * Opens the devices from their files ({@code base} alone: writes go to it; with {@code overlay} and {@code state}:
     * copy-on-write over it) and mounts them. A failure removes what was created (overlays, state files, the mount
     * directory).
     */
    public static Mounter openLocal(Options options) throws IOException {
        for (DeviceConfig d : options.devices()) {
            checkBase(d);
        }
        Mounter m = new Mounter(options);
        boolean ok = false;
        try {
            for (DeviceConfig d : options.devices()) {
                IncomingStorage.noteNewOverlays(d, m::noteCreated);
                synchronized (m.stacks) {
                    m.stacks.put(d.name(), DeviceStack.open(d, false, 0, null));
                }
            }
            m.expose();
            m.created.clear();
            ok = true;
            return m;
        } finally {
            if (!ok) {
                m.abandonStart();
            }
        }
    }

    private static void checkBase(DeviceConfig d) throws IOException {
        Path base = d.base().orElseThrow(() -> new IOException("could not open device \"" + d.name() + "\": no base"));
        if (!Files.isRegularFile(base)) {
            throw new IOException("could not open device \"" + d.name() + "\": base " + base
                    + (Files.exists(base) ? " is not a regular file" : " does not exist"));
        }
    }

    /**
     * Takes the devices migrating in on {@code connection} from another mounter: opens storage for each device the
     * source announces (it must be in {@code --devices} with the same block size, and fit on disk), waits for authority,
     * asks for the hand-over, and mounts the files once it is granted. Devices of {@code --devices} that are not
     * migrated ({@code shared}, {@code makeMigratable: false}) are opened from their local files. Until the grant, a
     * failure (or {@code stop}) gives the devices back to the source, which serves on, and removes what this side
     * created.
     */
    public static Mounter migrateIn(
            Options options, Connection connection, DestinationListener listener, CompletableFuture<?> stop)
            throws IOException, InterruptedException {
        for (DeviceConfig d : options.devices()) {
            if (!d.migrated()) {
                checkBase(d);
            }
        }
        Mounter m = new Mounter(options);
        boolean ok = false;
        CompletableFuture<?> aborter = null;
        try {
            DestinationOptions dopts = DestinationOptions.defaults()
                    .withToken(options.token())
                    .withPlainTcpAllowed(options.plainTcpAllowed())
                    .withExplicitTakeover(true);
            IncomingStorage storage = m.storage();
            m.incoming = MigrationDestination.accept(connection, storage, dopts, listener);
            MigrationDestination in = m.incoming;
            aborter = MigrationsIn.abortOnStop(in, stop);
            Map<String, WaitingDevice> arriving = in.awaitDevices(Peer.MIGRATION_LIMIT);
            synchronized (m.stacks) {
                for (DeviceConfig d : options.devices()) {
                    WaitingDevice w = arriving.get(d.name());
                    if (w != null) {
                        m.stacks.put(d.name(), DeviceStack.over(storage.config(d.name()), w));
                    } else if (!d.migrated()) {
                        m.stacks.put(d.name(), DeviceStack.open(d, false, 0, null));
                    } else {
                        LOG.log(
                                Level.WARNING,
                                "device \"" + d.name() + "\" is in --devices but the source does not"
                                        + " send it; it is not mounted");
                    }
                }
            }
            MigrationsIn.takeOver(
                    in,
                    aborter,
                    () -> {
                        m.expose();
                        m.created.clear(); // the files hold the devices now
                    },
                    e -> oneLine(e) + "; the devices stay at the source");
            ok = true;
            return m;
        } finally {
            if (aborter != null) {
                aborter.cancel(false);
            }
            if (!ok) {
                m.abandonStart();
            }
        }
    }

    /** Storage for the devices migrating in, from {@code --devices}. */
    private IncomingStorage storage() {
        return new IncomingStorage(
                options.devices(),
                name -> "device \"" + name + "\" is not in this mounter's --devices (it has "
                        + String.join(
                                ", ",
                                options.devices().stream()
                                        .map(DeviceConfig::name)
                                        .toList())
                        + ")",
                name -> false,
                this::noteCreated,
                stacks);
    }

    /**
     * Records {@code f} and its missing parent directories when they do not exist yet: a start that fails removes
     * them.
     */
    private void noteCreated(Path f) {
        synchronized (stacks) {
            Path p = f.toAbsolutePath().normalize();
            List<Path> missing = new ArrayList<>();
            while (p != null && !Files.exists(p)) {
                missing.add(p);
                p = p.getParent();
            }
            for (Path q : missing.reversed()) {
                if (!created.contains(q)) {
                    created.add(q);
                }
            }
        }
    }

    /** Puts a freeze layer on every stack and mounts the files. */
    private void expose() throws IOException {
        synchronized (stacks) {
            for (Map.Entry<String, DeviceStack> e : stacks.entrySet()) {
                exposed.put(e.getKey(), new FreezableDevice(e.getValue().top()));
            }
        }
        if (!Files.exists(mountDir)) {
            Path p = mountDir;
            while (p.getParent() != null && !Files.exists(p.getParent())) {
                p = p.getParent();
            }
            createdMountDir = p;
        }
        mount = DeviceMount.mount(mountDir, exposed, FuseOptions.defaults());
    }

    // ------------------------------------------------------------------ migrating out

    /**
     * Serves migrations out on {@code listener} until one completes or {@code stop} is asked for: each destination that
     * authenticates gets the devices (full copy and dirty rounds while the files stay writable, then the freeze, the
     * final dirty set, authority and the grant). A migration that fails before the grant thaws the devices, and the
     * mounter listens again.
     */
    public Peer.Outcome serve(MigrationListener listener, Peer.Events events, CompletableFuture<?> stop)
            throws IOException, InterruptedException {
        return MigrationsOut.serve(listener, events, stop, new FilesSide());
    }

    /** The files' part in serving migrations out: frozen and thawed by the engine, released once the devices left. */
    private final class FilesSide implements MigrationsOut.Side {
        @Override
        public MigrationSource start(AuthenticatedDestination d, Peer.Events ev) throws IOException {
            MigrationSource source = MigrationSource.start(d, sourceDevices(), sourceOptions(), new FreezeHook(), ev);
            outgoing = source;
            return source;
        }

        @Override
        public Duration backupPause() {
            return Duration.ZERO;
        }

        @Override
        public void migratedAway(String to) {
            migratedTo = to;
            exposed.values().forEach(f -> f.release("the device moved to " + to));
        }

        @Override
        public void handOverUncertain() {}

        @Override
        public boolean inUseHere() {
            return !frozen();
        }

        @Override
        public String couldNotTakeBack(String to) {
            return "could not thaw the devices after " + to + " gave them back";
        }

        @Override
        public String notInUseHere(String to) {
            return "the devices are still frozen after the failed migration to " + to;
        }
    }

    private SourceOptions sourceOptions() {
        return MigrationsOut.sourceOptions(options.compression(), options.token(), options.plainTcpAllowed());
    }

    private List<SourceDevice> sourceDevices() throws IOException {
        List<SourceDevice> devices;
        synchronized (stacks) {
            devices = MigrationsOut.sourceDevices(stacks.values());
        }
        if (devices.isEmpty()) {
            throw new IOException("could not migrate: no device of this mounter is migratable (all are shared or"
                    + " makeMigratable: false)");
        }
        return devices;
    }

    /** Whether any device holds its writes now. */
    private boolean frozen() {
        return exposed.values().stream().anyMatch(FreezableDevice::frozen);
    }

    /** Freezes the device files for the final dirty set, and thaws them when the migration fails before the grant. */
    private final class FreezeHook implements SuspendHook {
        @Override
        public void suspend() throws Exception {
            long start = System.nanoTime();
            for (FreezableDevice f : exposed.values()) {
                f.freeze();
            }
            for (FreezableDevice f : exposed.values()) {
                f.flush();
            }
            LOG.log(
                    Level.INFO,
                    "froze " + exposed.size() + " device(s) in "
                            + Duration.ofNanos(System.nanoTime() - start).toMillis() + " ms");
        }

        @Override
        public void resume() {
            exposed.values().forEach(FreezableDevice::thaw);
            LOG.log(Level.WARNING, "migration failed before the hand-over; the devices are writable here again");
        }
    }

    // ------------------------------------------------------------------ accessors

    /** The FUSE mount of the device files. */
    public DeviceMount mount() {
        return mount;
    }

    /** The file of each device, in {@code --devices} order. */
    public Map<String, Path> files() {
        Map<String, Path> files = new LinkedHashMap<>();
        exposed.keySet().forEach(n -> files.put(n, mount.file(n)));
        return files;
    }

    /** The storage stack of each device. */
    public Map<String, DeviceStack> stacks() {
        synchronized (stacks) {
            return Map.copyOf(stacks);
        }
    }

    /** The layer that freezes each device's writes (what the mount serves). */
    public Map<String, FreezableDevice> exposed() {
        return Map.copyOf(exposed);
    }

    /** The incoming migration, when this mounter was migrated in. */
    public MigrationDestination incoming() {
        return incoming;
    }

    /** The latest migration out that {@link #serve} started (it may have ended), or {@code null}. */
    public MigrationSource outgoing() {
        return outgoing;
    }

    // ------------------------------------------------------------------ stopping

    /**
     * Stops in order: flushes every device (overlays and their maps synced), fails writes still held by a freeze,
     * unmounts, closes the devices and removes a mount directory this mounter created. Idempotent.
     *
     * @return one line saying where the devices are now
     */
    public synchronized String stop() {
        if (stopped) {
            return stoppedWhere;
        }
        stopped = true;
        if (migratedTo == null) {
            for (Map.Entry<String, FreezableDevice> e : exposed.entrySet()) {
                try {
                    e.getValue().flush();
                } catch (IOException | RuntimeException ex) {
                    LOG.log(Level.ERROR, "could not flush device \"" + e.getKey() + "\": " + oneLine(ex));
                }
            }
        }
        exposed.values()
                .forEach(f ->
                        f.release(migratedTo == null ? "the mounter stopped" : "the device moved to " + migratedTo));
        if (incoming != null && incoming.authority() != Authority.DESTINATION) {
            incoming.abort();
        }
        closeMount();
        closeStacks();
        removeMountDir();
        stoppedWhere = migratedTo != null
                ? "the devices are at " + migratedTo
                : "the devices are in their files (" + String.join(", ", writableFiles()) + ")";
        return stoppedWhere;
    }

    /** Same as {@link #stop()}. */
    @Override
    public void close() {
        stop();
    }

    /** The files that hold the devices' data: the top overlays, or the bases without overlays. */
    private List<String> writableFiles() {
        Set<String> files = new LinkedHashSet<>();
        for (DeviceConfig d : options.devices()) {
            files.add(d.writtenFile().toString());
        }
        return List.copyOf(files);
    }

    /** Undoes a start that failed: unmounts, closes, and removes every file and directory this mounter created. */
    private void abandonStart() {
        stopped = true;
        exposed.values().forEach(f -> f.release("the mounter did not start"));
        if (incoming != null && incoming.authority() != Authority.DESTINATION) {
            incoming.abort();
        }
        closeMount();
        closeStacks();
        removeMountDir();
        for (Path f : created.reversed()) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException e) {
                LOG.log(Level.WARNING, "could not delete " + f + ": " + oneLine(e));
            }
        }
        created.clear();
        stoppedWhere = "no device was mounted";
    }

    private void closeMount() {
        if (mount != null) {
            try {
                mount.close();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "could not unmount " + mount.dir() + ": " + oneLine(e));
            }
        }
    }

    private void closeStacks() {
        synchronized (stacks) {
            for (Map.Entry<String, DeviceStack> e : stacks.entrySet()) {
                try {
                    FreezableDevice f = exposed.get(e.getKey());
                    if (f != null) {
                        f.close(); // closes the stack below it
                    } else {
                        e.getValue().close();
                    }
                } catch (IOException ex) {
                    LOG.log(Level.WARNING, "could not close device \"" + e.getKey() + "\": " + oneLine(ex));
                }
            }
            stacks.clear();
        }
    }

    /** Removes the mount directory (and the parents) this mounter created, once unmounted and empty. */
    private void removeMountDir() {
        if (createdMountDir == null) {
            return;
        }
        for (Path p = mountDir; p != null && p.startsWith(createdMountDir); p = p.getParent()) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                LOG.log(Level.WARNING, "could not remove " + p + ": " + oneLine(e));
                return;
            }
        }
        createdMountDir = null;
    }
}
