package io.drafter.peer;

import io.drafter.base.DeviceRole;
import io.drafter.base.Threads;
import io.drafter.expose.fuse.DeviceMount;
import io.drafter.expose.fuse.FuseOptions;
import io.drafter.linux.HelperCommand;
import io.drafter.linux.Libc;
import io.drafter.linux.LinuxException;
import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationOptions;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.source.AuthenticatedDestination;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceDevice;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SourcePhase;
import io.drafter.migration.source.SuspendHook;
import io.drafter.migration.transport.Connection;
import io.drafter.net.AddressInUseException;
import io.drafter.net.CommandRunner;
import io.drafter.net.Forwarder;
import io.drafter.net.Ipv4Cidr;
import io.drafter.net.Nat;
import io.drafter.net.NatConfig;
import io.drafter.net.NetException;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.DeviceStack;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.waiting.WaitingDevice;
import io.drafter.vm.Drive;
import io.drafter.vm.KernelImage;
import io.drafter.vm.Network;
import io.drafter.vm.SnapshotConfig;
import io.drafter.vm.StateSource;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.Vmm;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * A peer: one VM whose devices are served by our storage stacks through a FUSE mount, resumed from local package
 * files or migrated in from another peer, able to migrate itself out to other peers, and to stop in order.
 *
 * <p>Device roles follow Drafter: {@code state} (QEMU device state), {@code memory} (guest RAM, mapped shared by
 * QEMU), {@code kernel}, {@code config} (the snapshot's {@code config.json}), optionally {@code initrd}, and the disks
 * named in the config ({@code disk}, {@code oci}, …).
 *
 * <p>The whole life of a peer is here: {@link #resumeLocal} or {@link #migrateIn}; {@link #serve}, which migrates the
 * VM out to the first destination that authenticates and returns to listening, VM running, after every migration that
 * fails before the hand-over; and {@link #stop}, which suspends a running VM into its devices, ends QEMU, closes the
 * devices and removes the mount and the instance directory, in that order. A start that fails removes exactly what it
 * created, and never leaves devices that cannot be resumed.
 *
 * <p><b>Note:</b> one controlling thread at a time (the CLI's main thread); the migration engines and the stop
 * request call in from their own threads where documented. {@link #stop()} is idempotent.
 */
public final class Peer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Peer.class.getName());

    /** Device names of the roles a peer uses ({@link DeviceRole}). */
    public static final String STATE = DeviceRole.STATE.deviceName();

    public static final String MEMORY = DeviceRole.MEMORY.deviceName();
    public static final String KERNEL = DeviceRole.KERNEL.deviceName();
    public static final String CONFIG = DeviceRole.CONFIG.deviceName();
    public static final String INITRD = DeviceRole.INITRD.deviceName();
    /** Devices whose contents never change while a VM runs or migrates. */
    private static final Set<String> READ_ONLY_CONTENT = Set.of(KERNEL, INITRD, CONFIG);

    /** How long a migration may run end to end (each side's stall watchdog fails much sooner). */
    static final Duration MIGRATION_LIMIT = Duration.ofHours(6);

    /** How long a grant may take to arrive once the VM is prepared (the source sends its last blocks first). */
    static final Duration TAKEOVER_LIMIT = Duration.ofMinutes(10);

    /** What {@link #serve} ended with. */
    public sealed interface Outcome {
        /** The VM runs at {@code destination} now; this peer's paused copy may go. */
        record MigratedAway(String destination, SourceCounters counters) implements Outcome {}

        /** A stop was asked for; the VM runs here (call {@link #stop()}). */
        record StopRequested() implements Outcome {}

        /**
         * The grant went out but the destination never confirmed it took over: it may run the VM, so this peer keeps
         * it paused and saved in its devices and never resumes it on its own.
         */
        record HandOverUncertain(String destination, String reason) implements Outcome {}
    }

    /** Hears what a peer does while it serves migrations out; every method has a no-op default. */
    public interface Events extends SourceListener {
        /** A destination authenticated and the migration to it starts. */
        default void migrationStarted(String destination) {}

        /** The migration to {@code destination} failed before the hand-over; the VM runs here again. */
        default void migrationFailed(String destination, String reason) {}

        /**
         * {@code destination} (a terminator with {@code --live-backup}) holds a durable copy of the VM as it was at the
         * cut; the VM, paused for {@code paused}, runs on here.
         */
        default void backedUp(String destination, SourceCounters counters, Duration paused) {}
    }

    /** Where a VM is in its life on this peer. */
    private enum VmState {
        /** No VM (yet, or any more). */
        NONE,
        /** QEMU runs with the devices, waiting for the device state; the vCPUs never ran here. */
        STARTED,
        /** QEMU has the state loaded, the vCPUs never ran here. */
        PREPARED,
        /** The guest runs. */
        RUNNING,
        /** Paused by a migration, its state saved in the devices; the guest may not be called. */
        SAVED
    }

    private final PeerOptions options;
    private final Vmm vmm;
    private final RunDir runDir;
    private final Map<String, DeviceStack> stacks = new LinkedHashMap<>();
    /** Files this peer created; removed again if the VM never ran on them. */
    private final List<Path> createdFiles = new ArrayList<>();

    private Map<String, ? extends BlockDevice> exposed = Map.of();
    private DeviceMount mount;
    private volatile VmInstance vm;
    private volatile VmState vmState = VmState.NONE;
    private MigrationDestination incoming;
    private volatile MigrationSource outgoing;
    private volatile Forwarder forwarder;
    /** The forwards looked up by {@link #startAhead}, for the first {@link #installForwards}; {@code null} after. */
    private volatile Forwarder.Plan forwardPlan;
    /** Removes the forwards of a VM suspended for a migration, off the paused window; {@code null} when none runs. */
    private volatile Thread forwardsGoing;

    private String migratedTo;
    private boolean stopped;
    private String stoppedWhere;
    private Duration lastResume = Duration.ZERO;
    private volatile long pausedAtNanos;
    private volatile long runningAtNanos;
    private volatile long suspendedAtNanos;
    /**
     * Where the state device's trailing zeros begin, as this peer last wrote or read it ({@link StateTail}); -1 when
     * not known.
     */
    private volatile long stateZeroFrom = -1;

    private VmConfig aheadConfig;
    private long[] guestIoBeforeStart;
    /** The drives' reads when {@link #startAhead} dropped their page cache. */
    private long driveReadsAtDrop;
    /** How long QEMU took to start before its state was loaded (ahead of authority when migrating in). */
    private Duration startedAhead = Duration.ZERO;

    private Peer(PeerOptions options, Vmm vmm) throws IOException {
        this.options = options;
        this.vmm = vmm;
        this.runDir = RunDir.create(options.chrootBaseDir());
        if (!options.portForwards().isEmpty()) {
            // A peer killed while its VM ran left its forward (an nft table named after its PID): it would hold the
            // address this VM needs.
            for (String removed : Forwarder.clean(new CommandRunner())) {
                LOG.log(Level.WARNING, "removed " + removed + " left by a process that was killed");
            }
        }
    }

    /**
     * Opens the package devices locally ({@code base} alone: writes go to the package; with {@code overlay} and
     * {@code state}: copy-on-write), mounts them and resumes the VM.
     */
    public static Peer resumeLocal(PeerOptions options, Vmm vmm) throws IOException, VmException {
        for (DeviceConfig d : options.devices()) {
            Path base = d.base().orElseThrow();
            if (!Files.isRegularFile(base)) {
                throw new IOException("could not open device \"" + d.name() + "\": base " + base + " does not exist");
            }
        }
        Peer p = new Peer(options, vmm);
        boolean ok = false;
        try {
            for (DeviceConfig d : options.devices()) {
                IncomingStorage.noteNewOverlays(d, p::noteCreated);
                p.stacks.put(d.name(), DeviceStack.open(d, false, 0, null));
            }
            Map<String, BlockDevice> tops = new LinkedHashMap<>();
            p.stacks.forEach((name, s) -> tops.put(name, s.top()));
            p.prepare(tops);
            p.start(true);
            ok = true;
            return p;
        } finally {
            if (!ok) {
                p.abandonStart();
            }
        }
    }

    /**
     * Takes a VM migrating in on {@code connection}: opens storage for each device the source announces (it must be
     * in {@code --devices} with the same block size, and fit on disk), waits until authority arrives (or, with {@code
     * disablePostcopy}, every block), mounts the devices and prepares the VM (QEMU with its state loaded, vCPUs
     * stopped) while the last blocks arrive, then asks the source for the hand-over and starts the vCPUs only once it
     * is granted. Until the grant, a failure here (or {@code stop}) gives the VM back to the source, which resumes it,
     * and removes everything this peer created for it.
     *
     * <p>From a registry (a source that never runs the VM), unless {@code disablePostcopy}: the vCPUs start right after
     * the state is loaded, while the rest of the devices streams in ({@link DestinationPhase#FETCHING}); what the VM
     * reads first is fetched first. The peer migrates on, or closes its devices on {@link #stop()}, only once they are
     * complete.
     *
     * <p>Devices of {@code --devices} that are not migrated ({@code shared: true}, e.g. a mounter's file, or {@code
     * makeMigratable: false}) are opened from this host's files.
     */
    public static Peer migrateIn(
            PeerOptions options,
            Vmm vmm,
            Connection connection,
            DestinationListener listener,
            CompletableFuture<?> stop)
            throws IOException, VmException, InterruptedException {
        for (DeviceConfig d : options.devices()) {
            Path base = d.base().orElseThrow();
            if (!d.migrated() && !Files.isRegularFile(base)) {
                throw new IOException("could not open device \"" + d.name() + "\": base " + base
                        + " does not exist (a device that is not migrated, shared or makeMigratable: false, is"
                        + " opened from this host's files)");
            }
        }
        Peer p = new Peer(options, vmm);
        boolean ok = false;
        CompletableFuture<?> aborter = null;
        try {
            DestinationOptions dopts = DestinationOptions.defaults()
                    .withToken(options.token())
                    .withPlainTcpAllowed(options.plainTcpAllowed())
                    .withWaitForAllBlocks(options.disablePostcopy())
                    .withExplicitTakeover(true);
            IncomingStorage storage = p.storage();
            p.incoming = MigrationDestination.accept(connection, storage, dopts, testHolds(listener));
            MigrationDestination in = p.incoming;
            aborter = MigrationsIn.abortOnStop(in, stop);
            Map<String, WaitingDevice> arriving = in.awaitDevices(MIGRATION_LIMIT);
            Map<String, BlockDevice> tops = new LinkedHashMap<>();
            synchronized (p.stacks) {
                for (Map.Entry<String, WaitingDevice> e : arriving.entrySet()) {
                    DeviceStack s = DeviceStack.over(storage.config(e.getKey()), e.getValue());
                    p.stacks.put(e.getKey(), s);
                    tops.put(e.getKey(), s.top());
                }
                // Devices that never migrate (shared: true, e.g. a file of a mounter; makeMigratable: false) are this
                // host's own: opened from their files, as a local resume does.
                for (DeviceConfig d : options.devices()) {
                    if (!d.migrated() && !arriving.containsKey(d.name())) {
                        DeviceStack s = DeviceStack.open(d, false, 0, null);
                        p.stacks.put(d.name(), s);
                        tops.put(d.name(), s.top());
                    }
                }
            }
            // While the source still runs: mount, and start QEMU without its state (kernel read, RAM mapped, not
            // touched), so that after authority only the state load remains before the vCPUs may run.
            p.startAhead(tops);
            in.awaitResumable(MIGRATION_LIMIT);
            p.loadState();
            TestHold.at("destination-prepared");
            in.takeOver(TAKEOVER_LIMIT);
            aborter.cancel(false);
            try {
                p.start(false);
            } catch (IOException | RuntimeException e) {
                if (p.vmState == VmState.RUNNING) {
                    throw e; // it ran: this peer owns it now, stop() saves it
                }
                // Granted, but the vCPUs never ran here: say so, and the source takes its copy back.
                in.abort();
                throw e;
            }
            TestHold.at("destination-running");
            in.confirmTakeover();
            ok = true;
            return p;
        } finally {
            if (aborter != null) {
                aborter.cancel(false);
            }
            if (!ok) {
                p.abandonStart();
            }
        }
    }

    /** A destination listener that also stops at the test hold points of a migration in. */
    private static DestinationListener testHolds(DestinationListener listener) {
        DestinationListener l = listener == null ? DestinationListener.NONE : listener;
        return new DestinationListener() {
            @Override
            public void onPhase(
                    io.drafter.migration.destination.DestinationPhase from,
                    io.drafter.migration.destination.DestinationPhase to,
                    Duration timeInFrom) {
                l.onPhase(from, to, timeInFrom);
                if (to == io.drafter.migration.destination.DestinationPhase.RECEIVING) {
                    TestHold.at("destination-pre-copy");
                }
            }

            @Override
            public void onProgress(String device, long present, long total) {
                l.onProgress(device, present, total);
            }

            @Override
            public void onMissingBlock(String device, long block) {
                l.onMissingBlock(device, block);
            }

            @Override
            public void onFailed(io.drafter.migration.MigrationException e) {
                l.onFailed(e);
            }
        };
    }

    /** Storage for the devices migrating in, from {@code --devices}; guest RAM and state reserved up front. */
    private IncomingStorage storage() {
        return new IncomingStorage(
                options.devices(),
                name -> "device \"" + name + "\" is not in this peer's --devices",
                name -> name.equals(MEMORY) || name.equals(STATE),
                this::noteCreated,
                stacks);
    }

    /** Records a file about to be created for a VM that has not run: removed again if it never runs. */
    private void noteCreated(Path f) throws IOException {
        synchronized (stacks) {
            if (!createdFiles.contains(f)) {
                runDir.recordCreated(f);
                createdFiles.add(f);
            }
        }
    }

    /**
     * Mounts {@code devices} and prepares the VM from them: QEMU runs with the device state loaded, vCPUs stopped.
     */
    private void prepare(Map<String, ? extends BlockDevice> devices) throws IOException, VmException {
        startAhead(devices);
        loadState();
        lastResume = lastResume.plus(startedAhead);
        startedAhead = Duration.ZERO;
    }

    /**
     * Mounts {@code devices} and starts QEMU on them without the device state ({@link Vmm#startDeferred}): what a
     * resume can do before the state is final.
     */
    private void startAhead(Map<String, ? extends BlockDevice> devices) throws IOException, VmException {
        for (String required :
                DeviceRole.required().stream().map(DeviceRole::deviceName).toList()) {
            if (!devices.containsKey(required)) {
                throw new IOException("could not resume: no device named \"" + required + "\" in --devices");
            }
        }
        this.exposed = devices;
        Files.createDirectories(runDir.devices());
        Files.createDirectories(runDir.vm());
        // A QEMU that drops to its own user must own the device files it (re)opens: state, disks.
        FuseOptions fuse = vmm.user()
                .map(u -> FuseOptions.defaults().withOwner(u.uid(), u.gid()))
                .orElse(FuseOptions.defaults());
        mount = DeviceMount.mount(runDir.devices(), devices, fuse);
        SnapshotConfig config = SnapshotConfig.read(mount.file(CONFIG));
        Path initrd = null;
        if (config.hasInitrd()) {
            // An initrd device, else the initramfs the kernel image carries (DrafterOS's does), else one beside it.
            initrd = devices.containsKey(INITRD)
                    ? mount.file(INITRD)
                    : KernelImage.extractInitrd(mount.file(KERNEL), runDir.vm().resolve("initrd.img"))
                            .orElse(null);
            if (initrd == null) {
                DeviceConfig kernel = options.device(KERNEL);
                Path beside = kernel == null
                        ? null
                        : kernel.base()
                                .map(b -> b.resolveSibling("initramfs.img"))
                                .orElse(null);
                if (beside == null || !Files.isRegularFile(beside)) {
                    throw new VmException("could not resume: the snapshot boots with an initramfs that its kernel does"
                            + " not carry; add a device named \"initrd\" to --devices (or put initramfs.img beside the"
                            + " kernel)");
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
        if (network != null) {
            // The namespace may still track this VM's connections from an earlier stay here (a migration back), at
            // their old sequence numbers: the guest's first packets would be answered with resets.
            Nat.forgetTrackedFlows(options.netns(), new CommandRunner());
        }
        if (!options.portForwards().isEmpty()) {
            // Looked up and made now, dormant, while a source may still forward the addresses: after the hand-over
            // only its waking remains (netlink, and one conntrack run), and a forward that cannot work fails the start
            // here.
            try {
                forwardPlan = planForwards();
                forwardPlan.stage();
            } catch (NetException e) {
                discardForwardPlan();
                throw new IOException("could not forward ports to the VM: " + e.getMessage(), e);
            }
        }
        VmConfig vmConfig = config.toVmConfig(
                mount.file(KERNEL), initrd, drives, mount.file(MEMORY), network, runDir.vm(), options.console());
        long startNs = System.nanoTime();
        aheadConfig = vmConfig;
        guestIoBeforeStart = guestIo();
        vm = vmm.startDeferred(vmConfig);
        vmState = VmState.STARTED;
        startedAhead = Duration.ofNanos(System.nanoTime() - startNs);
        // QEMU's block layer read the start of each drive when it opened it, and reads nothing more before the vCPUs
        // run: drop those pages now, off the paused window.
        dropDriveCaches();
        driveReadsAtDrop = guestIo()[0];
    }

    /**
     * Drops the kernel's page cache of the drives on the mount (clean, not mapped): pages read while a migration still
     * changes the drives at the source, which the guest must not read. Its reads then ask the device, which has (or
     * waits for) the final blocks.
     */
    private void dropDriveCaches() throws IOException {
        for (Drive d : aheadConfig.drives()) {
            try {
                Libc.dropPageCache(d.path().toString());
            } catch (LinuxException e) {
                throw new IOException(
                        "could not drop the page cache of drive \"" + d.name() + "\": " + e.getMessage(), e);
            }
        }
    }

    /**
     * I/O so far on the devices whose contents change during a migration (all but kernel, initrd and config): {reads of
     * the drives, every other read or write (guest RAM, state, drive writes)}.
     */
    private long[] guestIo() {
        long driveReads = 0;
        long other = 0;
        synchronized (stacks) {
            for (Map.Entry<String, DeviceStack> e : stacks.entrySet()) {
                if (READ_ONLY_CONTENT.contains(e.getKey())) {
                    continue;
                }
                DeviceStack.Counters c = e.getValue().counters();
                if (e.getKey().equals(MEMORY) || e.getKey().equals(STATE)) {
                    other += c.reads() + c.writes();
                } else {
                    driveReads += c.reads();
                    other += c.writes();
                }
            }
        }
        return new long[] {driveReads, other};
    }

    /** Loads the device state into the VM {@link #startAhead} started: the VM is then prepared to run. */
    private void loadState() throws IOException, VmException {
        long startNs = System.nanoTime();
        long[] io = guestIo();
        if (io[1] != guestIoBeforeStart[1]) {
            // QEMU started ahead touches neither guest RAM nor the state, and writes no drive. Had it, the kernel's
            // page cache of those files could hold blocks that changed since: start it again, now that they are
            // final (an open without FOPEN_KEEP_CACHE drops the cache).
            LOG.log(
                    Level.WARNING,
                    "QEMU started ahead used guest RAM, the state or wrote a drive before they were final ("
                            + (io[1] - guestIoBeforeStart[1]) + " requests); starting it again");
            vm.close();
            vm = null;
            vm = vmm.startDeferred(aheadConfig);
        } else if (io[0] != driveReadsAtDrop) {
            // Read again since startAhead dropped them: those pages may have changed since at the source.
            dropDriveCaches();
        }
        // Read here, not through the mount: QEMU waits on a socket for these bytes since it started.
        BlockDevice state;
        synchronized (stacks) {
            state = stacks.get(STATE).top();
        }
        vm.loadState(new StateSource(state.sizeBytes(), state::read));
        vmState = VmState.PREPARED;
        lastResume = Duration.ofNanos(System.nanoTime() - startNs);
    }

    /**
     * Starts the prepared VM's vCPUs and installs the port forwards. With {@code awaitAfterResume=false} (after a
     * migration, where every millisecond is downtime) the VM serves as soon as its vCPUs run; the agent's {@code
     * AfterResume} (clock fix, hooks) follows on its own thread.
     */
    private void start(boolean awaitAfterResume) throws IOException, VmException {
        long startNs = System.nanoTime();
        // From the first instruction the guest runs, the files hold its state: never leftovers to remove.
        runDir.keepCreated();
        vm.cont();
        runningAtNanos = System.nanoTime();
        vmState = VmState.RUNNING;
        if (awaitAfterResume) {
            vm.afterResume(options.resumeTimeout());
        } else {
            VmInstance v = vm;
            Thread.ofVirtual().name("after-resume").start(() -> {
                try {
                    v.afterResume(options.resumeTimeout());
                } catch (VmException | RuntimeException e) {
                    LOG.log(Level.WARNING, "AfterResume failed: " + e.getMessage());
                }
            });
        }
        lastResume = lastResume.plus(Duration.ofNanos(System.nanoTime() - startNs));
        installForwards();
        LOG.log(
                Level.INFO,
                "resumed VM in " + lastResume.toMillis() + " ms ("
                        + (startedAhead.isZero() ? "" : "QEMU started ahead in " + startedAhead.toMillis() + " ms, ")
                        + "accelerator " + vm.accel() + ")");
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
        awaitForwardsGone();
        if (options.portForwards().isEmpty() || forwarder != null) {
            return;
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        Forwarder.Plan plan = forwardPlan;
        forwardPlan = null; // used once: a later install (after a failed migration out) looks up afresh
        while (true) {
            try {
                if (plan == null) {
                    plan = planForwards();
                }
                forwarder = plan.install();
                return;
            } catch (NetException e) {
                if (System.nanoTime() > deadline || !(e instanceof AddressInUseException)) {
                    plan.close(); // a staged table, if any, goes
                    throw new IOException("could not forward ports to the VM: " + e.getMessage(), e);
                }
                try {
                    Thread.sleep(5);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while forwarding ports", ie);
                }
            }
        }
    }

    /** Looks this peer's port forwards up, installing nothing ({@link Forwarder#plan}). */
    private Forwarder.Plan planForwards() {
        return Forwarder.plan(
                options.portForwards(), Ipv4Cidr.parse(NatConfig.DEFAULT_HOST_VETH_CIDR), new CommandRunner());
    }

    /** Removes this peer's port forwards, if any, and a forward made ahead that was never installed. */
    private void removeForwards() {
        discardForwardPlan();
        Forwarder f = forwarder;
        forwarder = null;
        close(f);
        awaitForwardsGone();
    }

    /** Removes the table {@link #startAhead} made for the forwards, if it was never installed. */
    private void discardForwardPlan() {
        Forwarder.Plan plan = forwardPlan;
        forwardPlan = null;
        if (plan != null) {
            try {
                plan.close();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "could not remove the port forwards made ahead: " + e.getMessage());
            }
        }
    }

    /**
     * Starts removing this peer's port forwards on a thread of its own: an {@code nft} run takes 10-30 ms here, which
     * would lengthen the paused window of a migration. {@link #awaitForwardsGone} waits for it.
     */
    private void removeForwardsAhead() {
        Forwarder f = forwarder;
        forwarder = null;
        if (f != null) {
            forwardsGoing = Thread.ofPlatform().name("remove-forwards").start(() -> close(f));
        }
    }

    /** Waits until forwards removed by {@link #removeForwardsAhead} are gone. */
    private void awaitForwardsGone() {
        Thread t = forwardsGoing;
        if (t == null) {
            return;
        }
        Threads.joinAll(List.of(t)); // an nft run ends within its own timeout
        forwardsGoing = null;
    }

    private static void close(Forwarder f) {
        if (f != null) {
            try {
                f.close();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "could not remove port forwards: " + e.getMessage());
            }
        }
    }

    /** How long the last resume took (QEMU start, state load, {@code AfterResume} when awaited). */
    public Duration lastResume() {
        return lastResume;
    }

    /**
     * When this peer last paused its VM to suspend it ({@link System#nanoTime()}, after the agent's {@code
     * BeforeSuspend}), or 0. With {@link #runningAtNanos()} of the peer that took the VM over, in the same process:
     * the VM's paused window.
     */
    public long pausedAtNanos() {
        return pausedAtNanos;
    }

    /**
     * When this peer last finished suspending its VM for a migration ({@link System#nanoTime()}: RAM flushed, state
     * saved; the devices are being flushed and its forwards removed), or 0.
     */
    public long suspendedAtNanos() {
        return suspendedAtNanos;
    }

    /** When the VM's vCPUs last started to run on this peer ({@link System#nanoTime()}, {@code cont} answered), or 0. */
    public long runningAtNanos() {
        return runningAtNanos;
    }

    /** How long QEMU took to start before the VM's state was there, when it was started ahead; else zero. */
    public Duration startedAhead() {
        return startedAhead;
    }

    /** The VM. */
    public VmInstance vm() {
        return vm;
    }

    /** The FUSE mount of the devices. */
    public DeviceMount mount() {
        return mount;
    }

    /** The instance directory. */
    public Path runDir() {
        return runDir.dir();
    }

    /** The storage stack of each device. */
    public Map<String, DeviceStack> stacks() {
        synchronized (stacks) {
            return Map.copyOf(stacks);
        }
    }

    /** The incoming migration, when this peer was migrated in. */
    public MigrationDestination incoming() {
        return incoming;
    }

    /** The latest migration out that {@link #serve} started (it may have ended), or {@code null}; for metrics. */
    public MigrationSource outgoing() {
        return outgoing;
    }

    /** Where the VM is in its life here: {@code none}, {@code prepared}, {@code running} or {@code saved}. */
    public String vmState() {
        return vmState.name().toLowerCase(java.util.Locale.ROOT);
    }
    // ------------------------------------------------------------------ migrating out

    /**
     * Serves migrations out on {@code listener} until one completes or {@code stop} is asked for: each destination
     * that authenticates gets the VM (full copy and dirty rounds while it runs, then suspend, the final dirty set,
     * authority, and the grant once the destination has prepared the VM). A migration that fails before the grant
     * leaves the VM running here, and the peer listens again. Connections that fail before authenticating never
     * reach this method (the listener refuses them).
     */
    public Outcome serve(MigrationListener listener, Events events, boolean compression, CompletableFuture<?> stop)
            throws IOException, InterruptedException {
        if (!awaitIncoming(stop)) {
            return new Outcome.StopRequested();
        }
        return MigrationsOut.serve(listener, events, stop, new VmSide(compression));
    }

    /** The VM's part in serving migrations out: suspended and resumed by the engine, paused for a live backup. */
    private final class VmSide implements MigrationsOut.Side {
        private final boolean compression;

        VmSide(boolean compression) {
            this.compression = compression;
        }

        @Override
        public MigrationSource start(AuthenticatedDestination d, Events ev) throws IOException {
            MigrationSource source = migrateOut(d, ev, compression);
            outgoing = source;
            return source;
        }

        @Override
        public Duration backupPause() {
            return Duration.ofNanos(Math.max(0, runningAtNanos - pausedAtNanos));
        }

        @Override
        public void migratedAway(String to) {
            migratedTo = to;
            vmState = VmState.SAVED;
        }

        @Override
        public void handOverUncertain() {
            vmState = VmState.SAVED;
        }

        @Override
        public boolean inUseHere() {
            return vmState == VmState.RUNNING;
        }

        @Override
        public String couldNotTakeBack(String to) {
            return "could not resume the VM here after " + to + " gave it back";
        }

        @Override
        public String notInUseHere(String to) {
            return "the VM could not be resumed here after the failed migration to " + to;
        }
    }

    /**
     * A VM started from a registry runs while the rest of its devices arrive: it migrates on only once they are all
     * here. Returns {@code false} if {@code stop} came first.
     */
    private boolean awaitIncoming(CompletableFuture<?> stop) throws IOException, InterruptedException {
        MigrationDestination in = incoming;
        if (in == null || in.phase() != DestinationPhase.FETCHING) {
            return true;
        }
        while (!stop.isDone()) {
            try {
                in.awaitCompleted(Duration.ofMillis(200));
                return true;
            } catch (MigrationException e) {
                throw new IOException(
                        "could not serve migrations: the VM's devices never arrived in full from the registry: "
                                + e.getMessage(),
                        e);
            } catch (IOException e) {
                // Not yet: look at the stop request again.
            }
        }
        return false;
    }

    /**
     * Migrates this VM to the authenticated destination {@code d}: full copy and dirty rounds while the VM runs, then
     * suspend (agent {@code BeforeSuspend}, pause, guest RAM flushed into the memory device, device state written into
     * the state device), the final dirty set and authority; the grant once the destination is ready to run. The engine
     * resumes the VM here if the migration fails before the grant.
     */
    public MigrationSource migrateOut(AuthenticatedDestination d, SourceListener listener, boolean compression)
            throws IOException {
        if (vm == null || vmState != VmState.RUNNING) {
            throw new IOException("could not migrate: no VM is running on this peer");
        }
        SourceListener l = listener == null ? SourceListener.NONE : listener;
        MigrationSource source =
                MigrationSource.start(d, sourceDevices(), sourceOptions(compression), new VmSuspendHook(), holds(l));
        startFlushers(source);
        return source;
    }

    /** As {@link #migrateOut(AuthenticatedDestination, SourceListener, boolean)} over a connection (tests). */
    public MigrationSource migrateOut(Connection connection, SourceListener listener, boolean compression)
            throws IOException {
        if (vm == null || vmState != VmState.RUNNING) {
            throw new IOException("could not migrate: no VM is running on this peer");
        }
        SourceListener l = listener == null ? SourceListener.NONE : listener;
        MigrationSource source = MigrationSource.start(
                connection, sourceDevices(), sourceOptions(compression), new VmSuspendHook(), holds(l));
        startFlushers(source);
        return source;
    }

    private SourceOptions sourceOptions(boolean compression) {
        return MigrationsOut.sourceOptions(compression, options.token(), options.plainTcpAllowed());
    }

    private List<SourceDevice> sourceDevices() {
        synchronized (stacks) {
            return MigrationsOut.sourceDevices(stacks.values());
        }
    }

    private static SourceListener holds(SourceListener l) {
        return new SourceListener() {
            @Override
            public void onPhase(SourcePhase from, SourcePhase to, Duration timeInFrom) {
                l.onPhase(from, to, timeInFrom);
                if (to == SourcePhase.DIRTY_ROUNDS) {
                    TestHold.at("source-pre-copy");
                }
            }

            @Override
            public void onDirtyRound(String device, int round, int dirtyBlocks, boolean last) {
                l.onDirtyRound(device, round, dirtyBlocks, last);
            }

            @Override
            public void onDeviceReady(String device, int rounds) {
                l.onDeviceReady(device, rounds);
            }

            @Override
            public void onPriorityRequest(String device, long block) {
                l.onPriorityRequest(device, block);
            }

            @Override
            public void onFailed(io.drafter.migration.MigrationException e) {
                l.onFailed(e);
            }
        };
    }

    /** The flushes of a migration out that run with the VM: the devices' write-back ahead and the memory flusher. */
    private void startFlushers(MigrationSource source) {
        writeBackDevicesAhead();
        DeviceConfig memory = options.device(MEMORY);
        if (memory != null && memory.migrated() && memory.maxCycles() > 0) {
            Duration period = memory.cycleThrottle().dividedBy(2);
            Thread.ofVirtual().name("memory-flusher").start(() -> flushMemoryWhilePreCopying(source, period));
        }
    }

    /**
     * Flushes every device once as pre-copy starts, off the paused window. What the devices' files took in the last
     * half minute (an incoming migration's blocks, guest RAM written back) is still dirty in the page cache, since the
     * kernel writes it back only after 30 s; the flush after the suspend, which the GRANT waits for, then wrote it all
     * (about 200 ms for a VM that arrived 12 s before). Now that flush carries only what changed since this one.
     */
    private void writeBackDevicesAhead() {
        Thread.ofVirtual().name("write-back-ahead").start(() -> {
            long t0 = System.nanoTime();
            try {
                flushAll(exposed.values());
                LOG.log(
                        Level.INFO,
                        "devices written back during pre-copy in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            } catch (IOException | RuntimeException e) {
                LOG.log(
                        Level.WARNING,
                        "could not write the devices back during pre-copy (the flush after the suspend does): "
                                + e.getMessage());
            }
        });
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
                flushMemoryInChild();
                Thread.sleep(sleepMs);
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "could not flush guest memory during pre-copy: " + e.getMessage());
                return;
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /**
     * The fsync of {@link VmInstance#flushMemory}, from a child process ({@code sync <memory file>}). A request of this
     * JVM to its own mount that is in flight when the JVM is killed with SIGKILL is never answered (the server threads
     * are gone) and keeps the dying JVM, and with it the mount, alive for good: the periodic flushes of a whole pre-copy
     * made that likely. A child's request ends with the connection once the JVM is gone.
     */
    private void flushMemoryInChild() throws IOException {
        HelperCommand.Result r = HelperCommand.of(
                        "sync", vm.config().memoryFile().toString())
                .step("flush guest memory")
                .timeout(Duration.ofSeconds(60))
                .tiedToJvm()
                .run();
        if (r.exitCode() != 0) {
            throw new IOException("could not flush guest memory: sync exited with " + r.exitCode() + ": "
                    + r.stderr().strip());
        }
    }

    /** Pauses the VM into its devices and restarts it, for the migration engine. */
    private final class VmSuspendHook implements SuspendHook {
        @Override
        public boolean prepare() throws Exception {
            // BeforeSuspend and guest RAM written back with the VM running; the engine sends what that dirtied before
            // the pause, so that the paused window carries only what the guest changes meanwhile.
            vm.prepareSnapshot(options.resumeTimeout());
            // Nothing writes the state device until the suspend: where its zeros begin now holds then.
            if (stateZeroFrom < 0) {
                stateZeroFrom = StateTail.zeroFrom(exposed.get(STATE));
            }
            return true;
        }

        /** The devices' flush after {@link #suspend()}, on a thread of its own; {@code null} before. */
        private volatile Thread settler;

        private final CompletableFuture<Void> settled = new CompletableFuture<>();

        @Override
        public void suspend() throws Exception {
            long start = System.nanoTime();
            String parts = saveState();
            // The VM is paused now; free the forwarded addresses for the next peer (the VM served them throughout
            // BeforeSuspend, which is why this comes after the snapshot, not before). The destination retries until
            // they are free; a resume here waits for them to be gone first.
            removeForwardsAhead();
            suspendedAtNanos = System.nanoTime();
            LOG.log(Level.INFO, parts + "; suspended VM in " + (suspendedAtNanos - start) / 1_000_000 + " ms");
            // Every block is in the devices: the final set may go while they are made durable (overlays synced,
            // copy-on-write maps saved). The GRANT waits for it; a peer killed from then on leaves devices that resume
            // to exactly this point.
            settler = Thread.ofPlatform().name("settle-devices").start(() -> {
                long t0 = System.nanoTime();
                try {
                    flushAll(exposed.values());
                    LOG.log(
                            Level.INFO,
                            "devices flushed in " + (System.nanoTime() - t0) / 1_000_000
                                    + " ms while the final set went out");
                    settled.complete(null);
                } catch (IOException | RuntimeException e) {
                    settled.completeExceptionally(e);
                }
            });
            if (TestHold.asked("source-suspended")) {
                // The point's promise: the devices durable, no authority sent yet.
                Threads.joinAll(List.of(settler));
                TestHold.at("source-suspended");
            }
        }

        @Override
        public CompletableFuture<Void> settling() {
            return settled;
        }

        @Override
        public void resume() throws Exception {
            Thread t = settler;
            if (t != null) {
                Threads.joinAll(List.of(t)); // the devices' flush ends before the VM writes again
            }
            vm.cont();
            runningAtNanos = System.nanoTime();
            vmState = VmState.RUNNING;
            installForwards();
            vm.afterResume(options.resumeTimeout());
            MigrationSource out = outgoing;
            if (out != null && out.copyOnly() && out.phase() != SourcePhase.FAILED) {
                LOG.log(
                        Level.INFO,
                        "backup cut taken; the VM runs on after a pause of "
                                + Duration.ofNanos(runningAtNanos - pausedAtNanos)
                                        .toMillis() + " ms");
            } else {
                LOG.log(Level.WARNING, "migration failed before the hand-over; the VM runs here again");
            }
        }
    }

    /**
     * Snapshots the running VM into its own devices: guest RAM is flushed into the memory device, the device state
     * is written into the state device, and every device is flushed. The VM stays paused.
     */
    void persistState() throws IOException, VmException {
        String parts = saveState();
        long t0 = System.nanoTime();
        flushAll(exposed.values());
        LOG.log(Level.INFO, parts + ", devices flushed " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    }

    /**
     * {@link #persistState} but the devices' flush: guest RAM flushed into the memory device and the device state
     * written into the state device, the VM paused. Every block of the suspended VM is in the devices (a migration's
     * final set reads them), but durable only once {@link #flushAll} ran.
     *
     * @return the parts' times, for the log
     */
    private String saveState() throws IOException, VmException {
        Path tmp = runDir.vm().resolve("state-out.bin");
        VmInstance.SnapshotResult snap = vm.snapshot(tmp, options.resumeTimeout());
        long saved = System.nanoTime();
        pausedAtNanos = saved - snap.pauseToSaved().toNanos();
        vmState = VmState.SAVED;
        try {
            byte[] state = Files.readAllBytes(tmp);
            BlockDevice dev = exposed.get(STATE);
            if (state.length > dev.sizeBytes()) {
                throw new IOException("could not save VM state: " + state.length
                        + " bytes do not fit the state device's " + dev.sizeBytes() + " (snapshot with more padding)");
            }
            dev.write(ByteBuffer.wrap(state), 0);
            // What an older, longer state left: up to where the zeros began when the suspend was prepared, else all.
            long zeroFrom = stateZeroFrom;
            stateZeroFrom = -1;
            StateTail.zero(dev, state.length, zeroFrom < 0 ? dev.sizeBytes() : zeroFrom);
            stateZeroFrom = state.length;
            return java.text.MessageFormat.format(
                    "suspended: BeforeSuspend and first RAM flush {0} ms; paused: RAM flushed {1} ms and meanwhile"
                            + " state saved {2} ms ({3} bytes), state device written {4} ms",
                    snap.beforeSuspend().toMillis(),
                    snap.pauseToFlushed().toMillis(),
                    snap.pauseToStateSaved().toMillis(),
                    snap.stateBytes(),
                    (System.nanoTime() - saved) / 1_000_000);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Flushes every device, each on its own thread (overlays and maps are synced to disk: the sum would be slow). */
    private static void flushAll(Collection<? extends BlockDevice> devices) throws IOException {
        List<Thread> threads = new ArrayList<>();
        List<IOException> failures = Collections.synchronizedList(new ArrayList<>());
        for (BlockDevice d : devices) {
            threads.add(Thread.ofVirtual().name("flush").start(() -> {
                try {
                    d.flush();
                } catch (IOException e) {
                    failures.add(e);
                } catch (RuntimeException e) {
                    failures.add(new IOException(e.getMessage(), e));
                }
            }));
        }
        Threads.joinAll(threads); // a half-flushed VM is worse than a late interrupt
        if (!failures.isEmpty()) {
            throw failures.getFirst();
        }
    }

    // ------------------------------------------------------------------ stopping

    /**
     * A short description of what stopping would do now, for a user who sends a second signal.
     */
    public String busyDescription() {
        return switch (vmState) {
            case RUNNING -> "suspending the VM into its devices";
            case SAVED -> migratedTo != null ? "stopping the paused copy of the VM" : "closing the VM's devices";
            case STARTED, PREPARED -> "giving the VM back and removing what was created for it";
            case NONE -> "closing the devices";
        };
    }

    /**
     * Stops the peer in order: a VM that runs here is suspended into its devices (agent {@code BeforeSuspend}, pause,
     * RAM flushed, device state saved); then QEMU ends, the devices are flushed and closed, the mount and the instance
     * directory are removed. Idempotent.
     *
     * @return one line saying where the VM is now
     */
    public synchronized String stop() {
        if (stopped) {
            return stoppedWhere;
        }
        stopped = true;
        removeForwards();
        String where;
        VmInstance v = vm;
        boolean saved = false;
        if (v != null && vmState == VmState.RUNNING && v.isAlive()) {
            try {
                persistState();
                saved = true;
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.ERROR, "could not save the VM's state before stopping it: " + e.getMessage());
            }
        } else if (vmState == VmState.SAVED) {
            saved = true;
        }
        if (v != null) {
            v.close();
        }
        String incomplete = saved ? awaitFetched() : null;
        if (incoming != null && incoming.authority() != Authority.DESTINATION) {
            incoming.abort();
        }
        closeMount();
        closeStacks();
        if (migratedTo != null) {
            where = "the VM runs at " + migratedTo;
        } else if (saved && incomplete != null) {
            where = "the VM is suspended in its devices (" + String.join(", ", writableDirs()) + "), but they are"
                    + " incomplete: " + incomplete;
        } else if (saved) {
            where = "the VM is suspended in its devices (" + String.join(", ", writableDirs()) + ")";
        } else if (vmState == VmState.STARTED || vmState == VmState.PREPARED || v == null) {
            where = "no VM ran here";
        } else {
            where = "the VM's state could not be saved; its devices hold the state of its last suspend";
        }
        runDir.delete();
        stoppedWhere = where;
        return where;
    }

    /**
     * A VM started from a registry before its package arrived ({@link DestinationPhase#FETCHING}): waits for the rest,
     * so that the devices hold the whole package. Returns {@code null} when they do, or why they do not.
     */
    private String awaitFetched() {
        MigrationDestination in = incoming;
        if (in == null || in.phase() != DestinationPhase.FETCHING) {
            return null;
        }
        LOG.log(Level.INFO, "waiting for the rest of the VM's devices from the registry before closing them");
        try {
            in.awaitCompleted(MIGRATION_LIMIT);
            return null;
        } catch (IOException e) {
            return "the rest never arrived (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted while the rest arrived";
        }
    }

    /** Same as {@link #stop()}. */
    @Override
    public void close() {
        stop();
    }

    /** The directories of the files that hold the VM's state: the top overlays, or the bases without overlays. */
    private List<String> writableDirs() {
        Set<String> dirs = new LinkedHashSet<>();
        for (DeviceConfig d : options.devices()) {
            Path f = d.writtenFile();
            Path parent = f.toAbsolutePath().getParent();
            dirs.add(parent == null ? f.toString() : parent.toString());
        }
        return List.copyOf(dirs);
    }

    /**
     * Undoes a start that failed: a VM that ran is suspended into its devices as by {@link #stop()}; otherwise QEMU
     * ends and every file this peer created goes, so the devices are exactly as before.
     */
    private void abandonStart() {
        if (vmState == VmState.RUNNING || vmState == VmState.SAVED) {
            stop();
            return;
        }
        stopped = true;
        removeForwards();
        if (vm != null) {
            vm.close();
        }
        if (incoming != null && incoming.authority() != Authority.DESTINATION) {
            incoming.abort();
        }
        closeMount();
        closeStacks();
        for (Path f : createdFiles.reversed()) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException e) {
                LOG.log(Level.WARNING, "could not delete " + f + ": " + e.getMessage());
            }
        }
        runDir.delete();
        stoppedWhere = "no VM ran here";
    }

    private void closeMount() {
        if (mount != null) {
            try {
                mount.close();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "could not unmount " + mount.dir() + ": " + e.getMessage());
            }
        }
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

    static String oneLine(Throwable t) {
        String m = t.getMessage();
        return (m == null || m.isBlank() ? t.getClass().getSimpleName() : m).replace('\n', ' ');
    }
}
