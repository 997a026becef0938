package io.drafter.peer;

import io.drafter.expose.fuse.DeviceMount;
import io.drafter.migration.Authority;
import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.source.DirtyPolicy;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceDevice;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.source.SuspendHook;
import io.drafter.migration.transport.Connection;
import io.drafter.net.CommandRunner;
import io.drafter.net.Forwarder;
import io.drafter.net.Ipv4Cidr;
import io.drafter.net.NatConfig;
import io.drafter.net.NetException;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.DeviceStack;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.source.FileBlockDevice;
import io.drafter.vm.Network;
import io.drafter.vm.SnapshotConfig;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.Vmm;
import io.drafter.vm.qemu.QemuVmm;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A peer: one VM whose devices are served by our storage stacks through a FUSE mount, resumed from local package
 * files or migrated in from another peer, and able to migrate itself out to another peer.
 *
 * <p>Device roles follow Drafter: {@code state} (QEMU device state), {@code memory} (guest RAM, mapped shared by
 * QEMU), {@code kernel}, {@code config} (the snapshot's {@code config.json}), optionally {@code initrd}, and the disks
 * named in the config ({@code disk}, {@code oci}, …).
 *
 * <p><b>Note:</b> one controlling thread at a time (the CLI's main thread); {@link #close()} may be called from a
 * shutdown hook and is idempotent.
 */
public final class Peer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Peer.class.getName());

    public static final String STATE = "state";
    public static final String MEMORY = "memory";
    public static final String KERNEL = "kernel";
    public static final String CONFIG = "config";
    public static final String INITRD = "initrd";

    /** How long a migration in may take until the destination may resume (the engine's stall watchdog fails sooner). */
    static final Duration MIGRATION_LIMIT = Duration.ofHours(6);

    private final PeerOptions options;
    private final Vmm vmm;
    private final Map<String, DeviceStack> stacks = new LinkedHashMap<>();
    private final List<Path> createdFiles = new ArrayList<>();
    private Map<String, ? extends BlockDevice> exposed = Map.of();
    private DeviceMount mount;
    private VmInstance vm;
    private MigrationDestination incoming;
    private Forwarder forwarder;
    private boolean migratedAway;
    private boolean closed;
    private Duration lastResume = Duration.ZERO;

    private Peer(PeerOptions options, Vmm vmm) {
        this.options = options;
        this.vmm = vmm;
    }

    /**
     * Opens the package devices locally ({@code base} alone: writes go to the package; with {@code overlay} and
     * {@code state}: copy-on-write), mounts them and resumes the VM.
     */
    public static Peer resumeLocal(PeerOptions options, Vmm vmm) throws IOException, VmException {
        Peer p = new Peer(options, vmm);
        boolean ok = false;
        try {
            for (DeviceConfig d : options.devices()) {
                Path base = d.base().orElseThrow();
                if (!Files.isRegularFile(base)) {
                    throw new IOException(
                            "could not open device \"" + d.name() + "\": base " + base + " does not exist");
                }
                p.stacks.put(d.name(), DeviceStack.open(d, false, 0, null));
            }
            Map<String, BlockDevice> tops = new LinkedHashMap<>();
            p.stacks.forEach((name, s) -> tops.put(name, s.top()));
            p.exposeAndResume(tops);
            ok = true;
            return p;
        } finally {
            if (!ok) {
                p.close();
            }
        }
    }

    /**
     * Takes a VM migrating in on {@code connection}: opens a storage stack for each device the source announces (it
     * must be in {@code --devices} with the same block size), waits until authority arrives (or, with {@code
     * disablePostcopy}, every block), then mounts and resumes the VM while the rest streams in. A resume that fails
     * is reported to the source, which then keeps (and resumes) its VM.
     */
    public static Peer migrateIn(PeerOptions options, Vmm vmm, Connection connection, DestinationListener listener)
            throws IOException, VmException, InterruptedException {
        Peer p = new Peer(options, vmm);
        boolean ok = false;
        try {
            DestinationOptions dopts = DestinationOptions.defaults()
                    .withToken(options.token())
                    .withPlainTcpAllowed(options.plainTcpAllowed())
                    .withWaitForAllBlocks(options.disablePostcopy())
                    .withExplicitTakeover(true);
            p.incoming = MigrationDestination.accept(connection, p.storage(), dopts, listener);
            MigrationDestination.Resumable r = p.incoming.awaitResumable(MIGRATION_LIMIT);
            p.incoming.takeOver(MIGRATION_LIMIT); // the source's grant: every block is here, the VM may run
            try {
                p.exposeAndResume(r.devices(), false);
                // Our VM runs: the source may drop its paused copy once every block is here.
                p.incoming.confirmTakeover();
            } catch (IOException | RuntimeException e) {
                // Authority is ours but the VM did not come up: give it back so that the source resumes its copy.
                p.incoming.abort();
                throw e;
            }
            ok = true;
            return p;
        } finally {
            if (!ok) {
                p.discardIncoming();
                p.close();
            }
        }
    }

    private DestinationStorage storage() {
        return new DestinationStorage() {
            @Override
            public Opened open(DeviceSpec spec) throws IOException {
                DeviceConfig d = options.device(spec.name());
                if (d == null) {
                    throw new ProtocolException(
                            ErrorCode.DEVICE_MISMATCH,
                            "device \"" + spec.name() + "\" is not in this peer's --devices");
                }
                if (d.blockSizeBytes() != spec.blockSizeBytes()) {
                    throw new ProtocolException(
                            ErrorCode.DEVICE_MISMATCH,
                            "device \"" + spec.name() + "\" has blocks of " + d.blockSizeBytes()
                                    + " bytes here, the source sends " + spec.blockSizeBytes());
                }
                Path base = d.base().orElseThrow();
                boolean zero = false;
                if (!Files.exists(base)) {
                    Files.createDirectories(base.toAbsolutePath().getParent());
                    FileBlockDevice.create(base, spec.sizeBytes(), spec.blockSizeBytes())
                            .close();
                    createdFiles.add(base);
                    zero = !d.copyOnWrite();
                } else if (Files.size(base) != spec.sizeBytes()) {
                    throw new ProtocolException(
                            ErrorCode.DEVICE_MISMATCH,
                            "device \"" + spec.name() + "\": base " + base + " holds " + Files.size(base)
                                    + " bytes, the source sends " + spec.sizeBytes());
                }
                for (int i = 0; i < d.overlays().size(); i++) {
                    for (Path f : List.of(d.overlays().get(i), d.states().get(i))) {
                        if (!Files.exists(f)) {
                            createdFiles.add(f);
                        }
                    }
                }
                DeviceStack s = DeviceStack.open(d, false, spec.sizeBytes(), null);
                synchronized (stacks) {
                    stacks.put(spec.name(), s);
                }
                return new Opened(s.top(), zero);
            }

            @Override
            public void discard(DeviceSpec spec, BlockDevice device) throws IOException {
                DeviceStack s;
                synchronized (stacks) {
                    s = stacks.remove(spec.name());
                }
                if (s != null) {
                    s.close();
                }
            }
        };
    }

    /** After a failed migration in: delete the files this peer created for it (the partial copy). */
    private void discardIncoming() {
        closeStacks();
        for (Path f : createdFiles) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException e) {
                LOG.log(Level.WARNING, "could not delete partial copy " + f + ": " + e.getMessage());
            }
        }
    }

    private void exposeAndResume(Map<String, ? extends BlockDevice> devices) throws IOException, VmException {
        exposeAndResume(devices, true);
    }

    /**
     * Mounts {@code devices} and resumes the VM from them. With {@code awaitAfterResume=false} (after a migration,
     * where every millisecond is downtime) the VM serves as soon as its vCPUs run; the agent's {@code AfterResume}
     * (clock fix, hooks) follows on its own thread.
     */
    private void exposeAndResume(Map<String, ? extends BlockDevice> devices, boolean awaitAfterResume)
            throws IOException, VmException {
        for (String required : List.of(STATE, MEMORY, KERNEL, CONFIG)) {
            if (!devices.containsKey(required)) {
                throw new IOException("could not resume: no device named \"" + required + "\" in --devices");
            }
        }
        this.exposed = devices;
        Path mnt = options.runDir().resolve("devices");
        Path vmDir = options.runDir().resolve("vm");
        Files.createDirectories(mnt);
        Files.createDirectories(vmDir);
        mount = DeviceMount.mount(mnt, devices);
        SnapshotConfig config = SnapshotConfig.read(mount.file(CONFIG));
        Path initrd = null;
        if (config.hasInitrd()) {
            if (devices.containsKey(INITRD)) {
                initrd = mount.file(INITRD);
            } else {
                DeviceConfig kernel = options.device(KERNEL);
                Path beside = kernel == null
                        ? null
                        : kernel.base()
                                .map(b -> b.resolveSibling("initramfs.img"))
                                .orElse(null);
                if (beside == null || !Files.isRegularFile(beside)) {
                    throw new VmException("could not resume: the snapshot boots with an initramfs; add a device"
                            + " named \"initrd\" to --devices (or put initramfs.img beside the kernel)");
                }
                initrd = beside;
            }
        }
        Map<String, Path> drives = new LinkedHashMap<>();
        for (String d : config.drives()) {
            if (!devices.containsKey(d)) {
                throw new VmException("could not resume: the snapshot has a drive \"" + d + "\" that --devices lacks");
            }
            drives.put(d, mount.file(d));
        }
        Network network = config.tapInterface() == null
                ? null
                : new Network(
                        options.netns().isEmpty() ? null : options.netns(),
                        config.tapInterface(),
                        config.mac() == null ? Network.DEFAULT_MAC : config.mac());
        if (network != null && options.netns().isEmpty()) {
            throw new VmException("could not resume: the snapshot has a NIC on " + config.tapInterface()
                    + "; give the namespace that holds it with --netns");
        }
        VmConfig vmConfig = config.toVmConfig(
                mount.file(KERNEL), initrd, drives, mount.file(MEMORY), network, vmDir, options.console());
        long start = System.nanoTime();
        vm = !awaitAfterResume && vmm instanceof QemuVmm q
                ? q.resume(vmConfig, mount.file(STATE), false)
                : vmm.resume(vmConfig, mount.file(STATE));
        lastResume = Duration.ofNanos(System.nanoTime() - start);
        installForwards();
        LOG.log(Level.INFO, "resumed VM in " + lastResume.toMillis() + " ms (accelerator " + vm.accel() + ")");
    }

    /** The longest a migration may run before a resume (each side's stall watchdog fails much sooner). */
    public static Duration migrationLimit() {
        return MIGRATION_LIMIT;
    }

    /**
     * Installs this peer's port forwards. Retries for a few seconds while the address is still forwarded by the
     * peer this VM just left (its forward goes when it suspends).
     */
    private void installForwards() throws IOException {
        if (options.portForwards().isEmpty() || forwarder != null) {
            return;
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            try {
                forwarder = Forwarder.open(
                        options.portForwards(), Ipv4Cidr.parse(NatConfig.DEFAULT_HOST_VETH_CIDR), new CommandRunner());
                return;
            } catch (NetException e) {
                if (System.nanoTime() > deadline || !e.getMessage().contains("in use")) {
                    throw new IOException("could not forward ports to the VM: " + e.getMessage(), e);
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while forwarding ports", ie);
                }
            }
        }
    }

    /** Removes this peer's port forwards, if any. */
    private void removeForwards() {
        Forwarder f = forwarder;
        forwarder = null;
        if (f != null) {
            try {
                f.close();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "could not remove port forwards: " + e.getMessage());
            }
        }
    }

    /** How long the last resume took (QEMU start, state load, {@code AfterResume}). */
    public Duration lastResume() {
        return lastResume;
    }

    /** The running VM. */
    public VmInstance vm() {
        return vm;
    }

    /** The FUSE mount of the devices. */
    public DeviceMount mount() {
        return mount;
    }

    /** The storage stack of each device (after a migration in: once the source announced them). */
    public Map<String, DeviceStack> stacks() {
        synchronized (stacks) {
            return Map.copyOf(stacks);
        }
    }

    /** The incoming migration, when this peer was migrated in. */
    public MigrationDestination incoming() {
        return incoming;
    }

    /**
     * Migrates this VM to the peer at the other end of {@code connection}: full copy and dirty rounds while the VM
     * runs, then suspend (agent {@code BeforeSuspend}, pause, guest RAM flushed into the memory device, device state
     * written into the state device), the final dirty set and authority transfer; the destination resumes and fetches
     * what is missing. The paused VM stays here until the caller sees the migration completed; if it fails before
     * authority moved, or the destination gives authority back, the engine resumes the VM here.
     */
    public MigrationSource migrateOut(Connection connection, SourceListener listener, boolean compression)
            throws IOException, InterruptedException {
        if (vm == null || !vm.isAlive()) {
            throw new IOException("could not migrate: no VM is running on this peer");
        }
        if (incoming != null) {
            // A migrated-in VM can move on only once every block arrived: the engine reads below the post-copy gate.
            incoming.awaitCompleted(MIGRATION_LIMIT);
        }
        List<SourceDevice> devices = new ArrayList<>();
        synchronized (stacks) {
            for (DeviceStack s : stacks.values()) {
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
        }
        SourceOptions sopts = SourceOptions.defaults()
                .withCompression(compression)
                .withToken(options.token())
                .withPlainTcpAllowed(options.plainTcpAllowed());
        MigrationSource source = MigrationSource.start(connection, devices, sopts, new VmSuspendHook(), listener);
        DeviceConfig memory = options.device(MEMORY);
        if (memory != null && memory.migrated() && memory.maxCycles() > 0) {
            Duration period = memory.cycleThrottle().dividedBy(2);
            Thread.ofVirtual().name("memory-flusher").start(() -> flushMemoryWhilePreCopying(source, period));
        }
        return source;
    }

    /**
     * Guest RAM reaches the memory device only when the kernel writes back the pages QEMU dirtied through its shared
     * mapping. Flushing it twice per dirty round makes each round see the guest's recent writes, so the rounds
     * converge on the real working set and the final set after suspend stays small.
     */
    private void flushMemoryWhilePreCopying(MigrationSource source, Duration period) {
        long sleepMs = Math.max(20, period.toMillis());
        while (true) {
            SourcePhase phase = source.phase();
            if (phase != SourcePhase.HANDSHAKE && phase != SourcePhase.FULL_COPY && phase != SourcePhase.DIRTY_ROUNDS) {
                return;
            }
            try {
                vm.flushMemory();
                Thread.sleep(sleepMs);
            } catch (VmException | RuntimeException e) {
                LOG.log(Level.WARNING, "could not flush guest memory during pre-copy: " + e.getMessage());
                return;
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Pauses the VM into its devices and restarts it, for the migration engine. */
    private final class VmSuspendHook implements SuspendHook {
        @Override
        public void suspend() throws Exception {
            long start = System.nanoTime();
            persistState();
            // The VM is paused now; free the forwarded addresses for the next peer (the VM served them throughout
            // BeforeSuspend, which is why this comes after the snapshot, not before).
            removeForwards();
            LOG.log(
                    Level.INFO,
                    "suspended VM in "
                            + Duration.ofNanos(System.nanoTime() - start).toMillis() + " ms");
        }

        @Override
        public void resume() throws Exception {
            vm.cont();
            installForwards();
            vm.afterResume(options.resumeTimeout());
            LOG.log(Level.WARNING, "migration failed; the VM runs here again");
        }
    }

    /**
     * Snapshots the running VM into its own devices: guest RAM is flushed into the memory device and the device state
     * is written into the state device. The VM stays paused.
     */
    void persistState() throws IOException, VmException {
        Path tmp = options.runDir().resolve("vm").resolve("state-out.bin");
        vm.snapshot(tmp, options.resumeTimeout());
        try {
            byte[] state = Files.readAllBytes(tmp);
            BlockDevice dev = exposed.get(STATE);
            if (state.length > dev.sizeBytes()) {
                throw new IOException("could not save VM state: " + state.length
                        + " bytes do not fit the state device's " + dev.sizeBytes() + " (snapshot with more padding)");
            }
            dev.write(ByteBuffer.wrap(state), 0);
            // Zero what an older, longer state left behind.
            ByteBuffer zeros = ByteBuffer.allocate(1 << 16);
            for (long off = state.length; off < dev.sizeBytes(); off += zeros.capacity()) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), dev.sizeBytes() - off));
                dev.write(zeros, off);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * After a migration out failed: when the destination explicitly gave up (it sent {@code ABORTED}, which it does
     * only before its VM ran, e.g. when its resume failed), authority comes back here and the paused VM is resumed.
     * A migration that failed before authority moved was already resumed by the engine. A lost connection after
     * authority moved leaves the VM paused: the destination may be running it, and two running copies are worse than
     * none (its state stays in this peer's devices and can be resumed by hand).
     *
     * @return whether the VM runs here again
     */
    public boolean recoverAfterFailedMigration(MigrationSource source, Throwable failure) throws Exception {
        if (source.phase() == SourcePhase.RESUMED) {
            return true;
        }
        if (source.phase() != SourcePhase.FAILED) {
            return false;
        }
        boolean destinationGaveUp = false;
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof ProtocolException p && p.fromPeer() && p.code() == ErrorCode.ABORTED) {
                destinationGaveUp = true;
            }
        }
        if (source.authority() == Authority.SOURCE || destinationGaveUp) {
            source.resumeSource();
            return true;
        }
        return false;
    }

    /** After the destination completed: this peer's VM now runs there; stop the paused copy here. */
    public void migratedAway() {
        migratedAway = true;
    }

    /**
     * Stops the peer. A VM that still runs here is first suspended into its devices (so the package or overlay holds
     * its latest state, as Drafter does); a VM that migrated away is just stopped. Then the mount is removed and the
     * devices are flushed and closed. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        removeForwards();
        if (vm != null) {
            boolean persist = !migratedAway && vm.isAlive() && (incoming == null || incomingComplete());
            if (persist) {
                try {
                    persistState();
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "could not save the VM's state before stopping it: " + e.getMessage());
                }
            }
            vm.close();
        }
        if (incoming != null && !incomingComplete() && vm == null) {
            // Only a destination whose VM never ran may give authority back; one that ran has writes of its own.
            incoming.abort();
        }
        if (mount != null) {
            try {
                mount.close();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "could not unmount " + mount.dir() + ": " + e.getMessage());
            }
        }
        closeStacks();
    }

    private boolean incomingComplete() {
        return incoming.phase() == io.drafter.migration.destination.DestinationPhase.COMPLETED;
    }

    private void closeStacks() {
        synchronized (stacks) {
            for (DeviceStack s : stacks.values()) {
                try {
                    s.close();
                } catch (IOException e) {
                    LOG.log(
                            Level.WARNING,
                            "could not close device \"" + s.config().name() + "\": " + e.getMessage());
                }
            }
            stacks.clear();
        }
    }
}
