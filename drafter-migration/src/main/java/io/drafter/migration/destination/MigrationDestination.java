package io.drafter.migration.destination;

import io.drafter.migration.Authority;
import io.drafter.migration.DeviceTraffic;
import io.drafter.migration.MigrationException;
import io.drafter.migration.internal.Handshake;
import io.drafter.migration.internal.Link;
import io.drafter.migration.internal.PhaseMachine;
import io.drafter.migration.internal.Watchdog;
import io.drafter.migration.protocol.BufferPool;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameAdapter;
import io.drafter.migration.protocol.FrameCipher;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.FrameProxy;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.transport.Connection;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The destination side of a live migration, and the handle to it: one state machine ({@link DestinationPhase}) that
 * answers the handshake, prepares and opens storage for the announced devices behind {@link WaitingDevice}s, applies
 * arriving blocks, prepares when AUTHORITY arrives, asks for the hand-over (TAKEOVER) and owns the devices once the
 * source's GRANT arrived, which the source sends behind every block: a destination holding the grant holds every block.
 *
 * <p>Nothing may run on the devices before the grant. With {@link DestinationOptions#explicitTakeover()} the caller
 * prepares after {@link #awaitResumable}, asks for the grant with {@link #takeOver}, starts its VM, and reports it with
 * {@link #confirmTakeover()} (COMPLETED); without it the engine asks at once and reports COMPLETED itself.
 *
 * <p>Each device has its own bounded queue and applier thread, and its own credit, so a slow device never stalls
 * another. A read of a block that has not arrived asks the source for it (NEED) and waits; after a failure such reads
 * fail at once. If the migration fails before the grant, the partial copy is discarded ({@link
 * DestinationStorage#discard}) and the source keeps the VM; after the grant the copy is kept.
 *
 * <p>The engine composes small parts and keeps the threads, the lock and the order of events: {@link
 * io.drafter.migration.internal.PhaseMachine} (phases), {@link DeviceSink} (one device's queue of {@link ApplyItem}s
 * and how each is applied, decoded by {@link io.drafter.migration.internal.BlockDecoder}), {@link CreditReturn} (credit
 * back to the source), {@link TakeoverGate} (authority, takeover, grant) and {@link FailureOutcome} (owner and discard
 * after a failure). See {@code docs/architecture.md}.
 *
 * <p><b>Note:</b> thread-safe. Runs a reader (which also did the handshake), a sender, one applier per device and a
 * watchdog, all platform threads: their progress must not depend on a free carrier of the virtual threads.
 */
public final class MigrationDestination {
    private static final System.Logger LOG = System.getLogger(MigrationDestination.class.getName());

    /** The phases in order; FAILED is reachable from every phase that has not ended. */
    static final PhaseMachine.Table<DestinationPhase> PHASES = PhaseMachine.table(
                    DestinationPhase.class, DestinationPhase.FAILED, DestinationPhase::terminal)
            .path(
                    DestinationPhase.HANDSHAKE,
                    DestinationPhase.RECEIVING,
                    DestinationPhase.AUTHORITATIVE,
                    DestinationPhase.GRANTED,
                    DestinationPhase.COMPLETED)
            // From a serve-only source: run while the rest streams in.
            .path(DestinationPhase.AUTHORITATIVE, DestinationPhase.FETCHING, DestinationPhase.GRANTED);

    /** What a resumable destination hands to its caller: the authority payload and the devices to run on. */
    public record Resumable(byte[] authorityPayload, Map<String, WaitingDevice> devices) {}

    private final Connection connection;
    private final String peer;
    private final DestinationStorage storage;
    private final DestinationOptions options;
    private final DestinationListener listener;
    private final Link link;
    private final FrameAdapter adapter;
    private final FrameProxy proxy;
    private final long heartbeatNs;
    private final LinkedBlockingQueue<Frame> outbox = new LinkedBlockingQueue<>();
    private final Object lock = new Object();
    private final List<DeviceSink> sinks = Collections.synchronizedList(new ArrayList<>());
    private final PhaseMachine<DestinationPhase> phases =
            new PhaseMachine<>("destination", PHASES, DestinationPhase.HANDSHAKE, System::nanoTime);
    private boolean zstd;
    /** The source announced a copy it never runs, and this side may run before the grant; guarded by lock. */
    private boolean runEarly;
    /** In FETCHING: the caller confirmed that it runs, so COMPLETED follows the grant; guarded by lock. */
    private boolean confirmedEarly;

    private int credit;
    private volatile byte[] authorityPayload;
    private volatile BufferPool pool;
    /** The hand-over's steps, each at most once; guarded by lock. */
    private final TakeoverGate gate;

    private MigrationException failure;

    private final AtomicLong blocksRequested = new AtomicLong();

    private final CompletableFuture<Map<String, WaitingDevice>> devicesFuture = new CompletableFuture<>();
    private final CompletableFuture<Resumable> resumableFuture = new CompletableFuture<>();
    private final CompletableFuture<Void> grantFuture = new CompletableFuture<>();
    private final CompletableFuture<DestinationCounters> completedFuture = new CompletableFuture<>();

    private MigrationDestination(
            Connection connection, DestinationStorage storage, DestinationOptions options, DestinationListener listener)
            throws IOException {
        this.connection = connection;
        this.peer = connection.peer();
        this.storage = storage;
        this.options = options;
        this.listener = listener == null ? DestinationListener.NONE : listener;
        this.gate = new TakeoverGate(options.explicitTakeover(), options.waitForAllBlocks());
        this.link = new Link(connection, "source", options.stallTimeout(), 16 << 10, this::fail);
        this.adapter = link.in();
        this.proxy = link.out();
        this.heartbeatNs = link.heartbeatNs();
    }

    /**
     * Takes a migration arriving on {@code connection}; returns at once. Devices are opened through {@code storage}
     * when the source announces them.
     *
     * @throws IOException if the connection is plain TCP without a token and plain TCP was not allowed
     */
    public static MigrationDestination accept(
            Connection connection, DestinationStorage storage, DestinationOptions options, DestinationListener listener)
            throws IOException {
        Handshake.checkSecurity(connection, options.token(), options.allowPlainTcp(), "accept a migration from");
        if (Handshake.sealsFrames(connection, options.token())) {
            FrameCipher.warmUp();
        }
        MigrationDestination d = new MigrationDestination(connection, storage, options, listener);
        d.link.start();
        Thread reader = Thread.ofPlatform()
                .name("migration-destination-reader-" + d.peer)
                .daemon()
                .unstarted(d::runReader);
        d.link.reader(reader);
        reader.start();
        return d;
    }

    // ------------------------------------------------------------------ public handle

    public DestinationPhase phase() {
        synchronized (lock) {
            return phases.phase();
        }
    }

    /** Who owns the devices as far as this side knows: this side only from the grant on. */
    public Authority authority() {
        synchronized (lock) {
            return switch (phases.phase()) {
                case FETCHING, GRANTED, COMPLETED -> Authority.DESTINATION;
                case FAILED -> failure.authority();
                default -> Authority.SOURCE;
            };
        }
    }

    /** Waits for the handshake and returns the devices (their reads wait for missing blocks). */
    public Map<String, WaitingDevice> awaitDevices(Duration timeout) throws IOException, InterruptedException {
        return Link.await(devicesFuture, timeout);
    }

    /**
     * Waits until the caller may go on. With {@link DestinationOptions#explicitTakeover()}: AUTHORITY arrived (and,
     * with {@link DestinationOptions#waitForAllBlocks()}, every block is here), so the caller may prepare (load state)
     * but must not run before {@link #takeOver} returned. Without it: the GRANT arrived, every block is here, and the
     * caller may run.
     */
    public Resumable awaitResumable(Duration timeout) throws IOException, InterruptedException {
        return Link.await(resumableFuture, timeout);
    }

    /**
     * Asks the source for the hand-over (TAKEOVER, once) and waits for its GRANT, which follows every block: when this
     * returns every device is complete and this side owns them; the caller may run. Returns at once if already
     * granted.
     *
     * <p>From a source that never runs what it serves (a registry announces it in its HELLO), with {@link
     * DestinationOptions#explicitTakeover()} and without {@link DestinationOptions#waitForAllBlocks()}: asks, and
     * returns at once in {@link DestinationPhase#FETCHING}: this side owns its copy and may run while the rest streams
     * in; reads of missing blocks are fetched first.
     *
     * @throws IllegalStateException if AUTHORITY has not arrived yet (wait with {@link #awaitResumable} first)
     * @throws MigrationException if the link died, the source failed, or no GRANT came within {@code timeout} (then
     *     this side gives up with ABORTED): do not run here. The source resumes on its own unless it had written the
     *     GRANT already; then it learns from the ABORTED, or needs the operator's word, that nothing runs here.
     */
    public void takeOver(Duration timeout) throws IOException, InterruptedException {
        synchronized (lock) {
            switch (phases.phase()) {
                case FETCHING, GRANTED, COMPLETED -> {
                    return;
                }
                case FAILED -> throw failure;
                case AUTHORITATIVE -> {
                    if (gate.ask()) {
                        outbox.add(new Frame.Takeover());
                    }
                    if (runEarly) {
                        transition(DestinationPhase.FETCHING);
                        return;
                    }
                }
                default ->
                    throw new IllegalStateException("could not take over from " + peer
                            + ": authority has not arrived (phase " + phases.phase() + ")");
            }
        }
        try {
            Link.await(grantFuture, timeout);
        } catch (MigrationException e) {
            throw e;
        } catch (IOException e) {
            fail(new ProtocolException(
                    ErrorCode.ABORTED,
                    "no GRANT from source " + peer + " within " + Watchdog.seconds(timeout.toNanos())));
            synchronized (lock) {
                if (failure != null) {
                    throw failure;
                }
            }
            // The GRANT won the race with the timeout (and COMPLETED went out already).
        }
    }

    /** Waits until the source was told that this side runs (COMPLETED). */
    public DestinationCounters awaitCompleted(Duration timeout) throws IOException, InterruptedException {
        return Link.await(completedFuture, timeout);
    }

    /**
     * With {@link DestinationOptions#explicitTakeover()}: the application runs on these devices, so COMPLETED goes to
     * the source, which then drops its paused copy. Idempotent; without explicit takeover the engine did it already.
     *
     * In {@link DestinationPhase#FETCHING}, COMPLETED goes once the last block arrived (with the GRANT).
     *
     * @throws IllegalStateException if the hand-over was not granted ({@link #takeOver} first)
     */
    public void confirmTakeover() {
        synchronized (lock) {
            if (phases.phase() == DestinationPhase.COMPLETED) {
                return;
            }
            if (phases.phase() == DestinationPhase.FETCHING) {
                confirmedEarly = true;
                return;
            }
            if (phases.phase() != DestinationPhase.GRANTED) {
                throw new IllegalStateException("could not confirm the takeover from " + peer
                        + ": the source has not granted it (phase " + phases.phase() + ")");
            }
        }
        complete();
    }

    /**
     * Stops the migration; the source is told with an ERROR frame ABORTED. Before the grant the partial copy is
     * discarded and the source keeps the VM. After the grant it means "I did not run it": the copy stays, and the
     * source's caller may take the VM back. Call it after the grant only if nothing ran on these devices.
     */
    public void abort() {
        boolean granted;
        synchronized (lock) {
            granted = phases.phase() == DestinationPhase.GRANTED;
        }
        fail(new ProtocolException(
                ErrorCode.ABORTED,
                granted
                        ? "migration aborted at the destination after the grant"
                        : "migration aborted at the destination"));
    }

    public DestinationCounters counters() {
        long waits = 0;
        long waitNs = 0;
        long blocksReceived = 0;
        Map<String, DeviceTraffic> perDevice = new LinkedHashMap<>();
        long zeroBlocks = 0;
        long dirtyBlocks = 0;
        synchronized (sinks) {
            for (DeviceSink s : sinks) {
                waits += s.waiting.waitCount();
                waitNs += s.waiting.waitNanos();
                blocksReceived += s.blocksReceived();
                zeroBlocks += s.zeroBlocks();
                dirtyBlocks += s.dirtyBlocks();
                perDevice.put(s.spec.name(), new DeviceTraffic(s.blocksReceived(), s.zeroBlocks(), s.dataBytes()));
            }
        }
        synchronized (lock) {
            return new DestinationCounters(
                    adapter.bytesReceived(),
                    blocksReceived,
                    zeroBlocks,
                    dirtyBlocks,
                    blocksRequested.get(),
                    waits,
                    Duration.ofNanos(waitNs),
                    phases.phaseTimes(),
                    perDevice);
        }
    }

    // ------------------------------------------------------------------ state machine

    /**
     * Moves to {@code to}; returns {@code false} if the session already ended (a failure on another thread won the
     * race).
     *
     * @throws IllegalStateException for a transition the state machine does not have
     */
    private boolean transition(DestinationPhase to) {
        PhaseMachine.Transition<DestinationPhase> t;
        synchronized (lock) {
            t = phases.transition(to);
        }
        if (t == null) {
            return false;
        }
        LOG.log(
                Level.DEBUG,
                () -> "migration from " + peer + ": " + t.from() + " -> " + to + " after " + t.timeInFrom());
        try {
            listener.onPhase(t.from(), to, t.timeInFrom());
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "destination listener failed in onPhase", e);
        }
        return true;
    }

    private void runReader() {
        try {
            Handshake.Opened opened = Handshake.destinationHello(
                    adapter,
                    proxy,
                    peer,
                    options.compression(),
                    options.token(),
                    Handshake.sealsFrames(connection, options.token()),
                    options.copyOnly());
            Thread.ofPlatform()
                    .name("migration-destination-sender-" + peer)
                    .daemon()
                    .start(this::runSender);
            Handshake.Agreed agreed =
                    Handshake.destinationRest(adapter, proxy, peer, opened, options.token(), this::openDevices);
            synchronized (lock) {
                zstd = agreed.zstd();
                runEarly = agreed.serveOnly() && options.explicitTakeover() && !options.waitForAllBlocks();
            }
            int maxBlock = agreed.devices().stream()
                    .mapToInt(DeviceSpec::blockSizeBytes)
                    .max()
                    .orElse(FrameCodec.MIN_BLOCK_BYTES);
            pool = new BufferPool(maxBlock + 64, (credit + 4) * agreed.devices().size());
            adapter.usePool(pool);
            Map<String, WaitingDevice> devices = new LinkedHashMap<>();
            for (DeviceSink s : sinks) {
                devices.put(s.spec.name(), s.waiting);
                // Platform threads: a reader of these devices in this JVM (a FUSE read, say) may block every carrier
                // of the virtual threads while it waits for a block that only an applier can supply.
                s.applier = Thread.ofPlatform()
                        .name("migration-destination-apply-" + s.spec.name())
                        .daemon()
                        .start(() -> runApplier(s));
            }
            if (!transition(DestinationPhase.RECEIVING)) {
                return;
            }
            devicesFuture.complete(Collections.unmodifiableMap(devices));
            while (true) {
                Frame f = adapter.read();
                switch (f) {
                    case Frame.BlockData d -> {
                        checkBeforeGrant(f);
                        DeviceSink s = sink(d.device(), d.block());
                        if (d.rawLength() != s.spec.blockLength(d.block())) {
                            throw malformed("BLOCK " + d.block() + " of device \"" + s.spec.name() + "\" claims "
                                    + d.rawLength() + " bytes, the block holds " + s.spec.blockLength(d.block()));
                        }
                        if (d.encoding() == Frame.BlockData.ZSTD && !zstd) {
                            throw malformed("compressed BLOCK although compression was not agreed");
                        }
                        enqueue(s, new ApplyItem.Block(d));
                    }
                    case Frame.ZeroBlocks z -> {
                        checkBeforeGrant(f);
                        DeviceSink s = sink(z.device(), z.firstBlock());
                        if (z.firstBlock() + z.count() > s.spec.blockCount()) {
                            throw malformed("ZERO blocks " + z.firstBlock() + "+" + z.count() + " beyond device \""
                                    + s.spec.name() + "\" of " + s.spec.blockCount() + " blocks");
                        }
                        enqueue(s, new ApplyItem.Zeros(z));
                    }
                    case Frame.DirtyBlocks x -> {
                        checkBeforeGrant(f);
                        DeviceSink s = sink(x.device(), 0);
                        for (long b : x.blocks()) {
                            sink(x.device(), b);
                        }
                        enqueue(s, new ApplyItem.Dirty(x));
                    }
                    case Frame.Authority a -> onAuthority(a);
                    case Frame.Grant _ -> onGrant();
                    case Frame.Ping _ -> {}
                    case Frame.Error e -> throw Handshake.peerError(e, peer);
                    default -> throw Handshake.unexpected(f, "BLOCK, ZERO, DIRTY, AUTHORITY, GRANT or PING");
                }
            }
        } catch (EOFException e) {
            // After COMPLETED the source closes the connection: that end is the expected one, and ours goes too.
            if (phase() != DestinationPhase.COMPLETED) {
                fail(e);
            } else {
                connection.close();
            }
        } catch (IOException | RuntimeException e) {
            fail(e);
        } finally {
            link.readerDone();
        }
    }

    private int openDevices(List<DeviceSpec> specs) throws IOException {
        try {
            storage.prepare(specs);
        } catch (ProtocolException e) {
            throw e;
        } catch (IOException e) {
            throw new ProtocolException(ErrorCode.STORAGE_ERROR, "could not prepare storage: " + e.getMessage());
        }
        int maxBlock = specs.stream().mapToInt(DeviceSpec::blockSizeBytes).max().orElse(FrameCodec.MIN_BLOCK_BYTES);
        int c = Math.max(4, Math.min(FrameCodec.MAX_CREDIT, options.windowBytes() / maxBlock));
        synchronized (lock) {
            credit = c;
        }
        for (int i = 0; i < specs.size(); i++) {
            DeviceSpec spec = specs.get(i);
            DestinationStorage.Opened o;
            try {
                o = storage.open(spec);
            } catch (ProtocolException e) {
                throw e;
            } catch (IOException e) {
                throw new ProtocolException(
                        ErrorCode.STORAGE_ERROR,
                        "could not open storage for device \"" + spec.name() + "\": " + e.getMessage());
            }
            int index = i;
            sinks.add(new DeviceSink(i, spec, o, c, block -> onMissing(index, spec, block)));
        }
        return c;
    }

    private DeviceSink sink(int device, long block) throws ProtocolException {
        if (device >= sinks.size()) {
            throw malformed("device " + device + " of " + sinks.size());
        }
        DeviceSink s = sinks.get(device);
        if (block >= s.spec.blockCount()) {
            throw malformed("block " + block + " of device \"" + s.spec.name() + "\" which has " + s.spec.blockCount());
        }
        return s;
    }

    private void enqueue(DeviceSink s, ApplyItem item) throws ProtocolException {
        if (!s.offer(item)) {
            throw new ProtocolException(
                    ErrorCode.FLOW_CONTROL,
                    "source sent more than its credit of " + credit + " frames for device \"" + s.spec.name() + "\"");
        }
    }

    /** Data may arrive only before the GRANT: the source sends it behind every block. */
    private void checkBeforeGrant(Frame f) throws ProtocolException {
        if (gate.granted()) {
            throw new ProtocolException(
                    ErrorCode.UNEXPECTED_FRAME, "unexpected " + f.getClass().getSimpleName() + " after GRANT");
        }
    }

    private void onAuthority(Frame.Authority a) throws ProtocolException {
        synchronized (lock) {
            if (phases.phase() != DestinationPhase.RECEIVING || !gate.authority()) {
                throw new ProtocolException(
                        ErrorCode.UNEXPECTED_FRAME, "unexpected AUTHORITY in phase " + phases.phase());
            }
        }
        authorityPayload = a.payload();
        // Every DIRTY list sent before AUTHORITY must be applied before anyone prepares on these devices.
        CountDownLatch applied = barrier();
        Thread.ofPlatform().name("migration-destination-authority").daemon().start(() -> {
            try {
                if (!awaitApplied(applied)) {
                    return;
                }
                synchronized (lock) {
                    // Appliers ask for the grant once they see AUTHORITATIVE: the acknowledgement must be ahead of it.
                    if (!transition(DestinationPhase.AUTHORITATIVE)) {
                        return;
                    }
                    outbox.add(new Frame.AuthorityAck());
                }
                checkProgress();
            } catch (InterruptedException e) {
                // Nobody interrupts these threads; end quietly if it happens.
            } catch (RuntimeException e) {
                fail(e);
            }
        });
    }

    private void onGrant() throws ProtocolException {
        synchronized (lock) {
            DestinationPhase at = phases.phase();
            if ((at != DestinationPhase.AUTHORITATIVE && at != DestinationPhase.FETCHING) || !gate.grant()) {
                throw new ProtocolException(
                        ErrorCode.UNEXPECTED_FRAME,
                        "unexpected GRANT in phase " + phases.phase()
                                + (gate.asked() ? "" : " (no TAKEOVER was sent)"));
            }
        }
        // The blocks ahead of the GRANT may still sit in the appliers' queues: the grant counts once they are stored.
        CountDownLatch applied = barrier();
        Thread.ofPlatform().name("migration-destination-grant").daemon().start(() -> {
            try {
                if (!awaitApplied(applied)) {
                    return;
                }
                for (DeviceSink s : sinks) {
                    long missing = s.spec.blockCount() - s.waiting.presentBlockCount();
                    if (missing > 0) {
                        throw new ProtocolException(
                                ErrorCode.UNEXPECTED_FRAME,
                                "GRANT arrived while device \"" + s.spec.name() + "\" still misses " + missing
                                        + " blocks");
                    }
                }
                if (!transition(DestinationPhase.GRANTED)) {
                    return;
                }
                grantFuture.complete(null);
                boolean confirmed;
                synchronized (lock) {
                    confirmed = confirmedEarly;
                }
                if (confirmed) {
                    complete(); // it runs already
                } else if (!options.explicitTakeover()) {
                    // The caller runs as soon as awaitResumable returns: tell the source now.
                    complete();
                    resumableFuture.complete(resumable());
                }
            } catch (InterruptedException e) {
                // Nobody interrupts these threads; end quietly if it happens.
            } catch (ProtocolException | RuntimeException e) {
                fail(e);
            }
        });
    }

    /**
     * Waits for {@code applied}; returns {@code false} if the session ended first (its appliers stopped and will never
     * count down).
     */
    private boolean awaitApplied(CountDownLatch applied) throws InterruptedException {
        while (!applied.await(100, TimeUnit.MILLISECONDS)) {
            if (phase().terminal()) {
                return false;
            }
        }
        return true;
    }

    /** A latch every applier counts down once it has applied what is queued before it. */
    private CountDownLatch barrier() throws ProtocolException {
        CountDownLatch applied = new CountDownLatch(sinks.size());
        for (DeviceSink s : sinks) {
            enqueue(s, new ApplyItem.Barrier(applied));
        }
        return applied;
    }

    private Resumable resumable() {
        Map<String, WaitingDevice> devices = new LinkedHashMap<>();
        for (DeviceSink s : sinks) {
            devices.put(s.spec.name(), s.waiting);
        }
        return new Resumable(authorityPayload.clone(), Collections.unmodifiableMap(devices));
    }

    /**
     * After AUTHORITY, whenever blocks arrived: once the caller may go on (at once, or with {@link
     * DestinationOptions#waitForAllBlocks()} when every block is here), lets an explicit caller prepare, or asks for
     * the grant on its behalf.
     */
    private void checkProgress() {
        Resumable prepare = null;
        synchronized (lock) {
            if (phases.phase() != DestinationPhase.AUTHORITATIVE) {
                return;
            }
            switch (gate.next(this::allBlocksHere)) {
                case WAIT -> {
                    return;
                }
                case PREPARE -> {
                    if (!resumableFuture.isDone()) {
                        prepare = resumable();
                    }
                }
                case ASK -> outbox.add(new Frame.Takeover());
            }
        }
        if (prepare != null) {
            resumableFuture.complete(prepare);
        }
    }

    private boolean allBlocksHere() {
        for (DeviceSink s : sinks) {
            if (!s.waiting.isComplete()) {
                return false;
            }
        }
        return true;
    }

    /** Reports COMPLETED to the source: this side runs on the devices. */
    private void complete() {
        synchronized (lock) {
            // COMPLETED before the frame leaves: the source closes the connection as soon as it reads it.
            if (phases.phase() != DestinationPhase.GRANTED || !transition(DestinationPhase.COMPLETED)) {
                return;
            }
            outbox.add(new Frame.Completed());
        }
        link.stopWatchdog();
        for (DeviceSink s : sinks) {
            // Nothing more arrives after the GRANT: the appliers' queues are empty and their threads may go.
            if (s.applier != null) {
                s.applier.interrupt();
            }
        }
        completedFuture.complete(counters());
    }

    // ------------------------------------------------------------------ appliers

    private void runApplier(DeviceSink s) {
        CreditReturn credits = new CreditReturn(credit);
        try {
            while (true) {
                if (s.apply(s.take(), pool)) {
                    credits.applied();
                }
                boolean idle = s.idle();
                int returned = credits.due(idle);
                if (returned > 0) {
                    outbox.add(new Frame.Credit(s.index, returned));
                }
                if (idle) {
                    long now = System.nanoTime();
                    if (now - s.lastProgressNs > 100_000_000L) {
                        s.lastProgressNs = now;
                        listener.onProgress(s.spec.name(), s.waiting.presentBlockCount(), s.spec.blockCount());
                    }
                    if (phase() == DestinationPhase.AUTHORITATIVE) {
                        checkProgress();
                    }
                }
            }
        } catch (InterruptedException e) {
            // Stopped by fail().
        } catch (ProtocolException e) {
            fail(e);
        } catch (IOException | RuntimeException e) {
            if (!phase().terminal()) {
                fail(new ProtocolException(
                        ErrorCode.STORAGE_ERROR,
                        "could not store data of device \"" + s.spec.name() + "\": " + e.getMessage()));
            }
        }
    }

    private void onMissing(int device, DeviceSpec spec, long block) {
        if (phase().terminal()) {
            return;
        }
        blocksRequested.incrementAndGet();
        outbox.add(new Frame.Need(device, block));
        listener.onMissingBlock(spec.name(), block);
    }

    // ------------------------------------------------------------------ sender

    private void runSender() {
        try {
            while (true) {
                Frame f = outbox.poll(heartbeatNs, TimeUnit.NANOSECONDS);
                if (f == null) {
                    if (phase().terminal()) {
                        return;
                    }
                    proxy.sendNow(new Frame.Ping(System.nanoTime()));
                    continue;
                }
                proxy.send(f);
                if (outbox.isEmpty() || f instanceof Frame.Completed) {
                    proxy.flush();
                }
                if (f instanceof Frame.Completed) {
                    return;
                }
            }
        } catch (IOException e) {
            fail(e);
        } catch (InterruptedException e) {
            // Stopped by fail().
        }
    }

    // ------------------------------------------------------------------ failure

    private void fail(Throwable cause) {
        DestinationPhase at;
        boolean askedForGrant;
        synchronized (lock) {
            at = phases.phase();
            askedForGrant = gate.asked();
            if (at.terminal()) {
                return;
            }
        }
        FailureOutcome outcome = FailureOutcome.of(at, askedForGrant, !sinks.isEmpty(), cause);
        String detail = cause.getMessage() == null ? cause.toString() : cause.getMessage();
        MigrationException ex = new MigrationException(
                "could not migrate from " + peer + " (phase " + at + "): " + detail + outcome.consequence(),
                at.name(),
                outcome.authority(),
                cause);
        synchronized (lock) {
            if (!transition(DestinationPhase.FAILED)) {
                return;
            }
            failure = ex;
        }
        LOG.log(Level.WARNING, ex.getMessage());
        link.failAndClose(cause, ex.getMessage());
        IOException readError = new IOException(ex.getMessage(), ex);
        List<DeviceSink> all;
        synchronized (sinks) {
            all = List.copyOf(sinks);
        }
        for (DeviceSink s : all) {
            s.waiting.fail(readError);
            if (s.applier != null) {
                s.applier.interrupt();
            }
        }
        for (DeviceSink s : all) {
            if (s.applier != null) {
                try {
                    s.applier.join(Duration.ofSeconds(2));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (outcome.discard()) {
                try {
                    storage.discard(s.spec, s.opened.device());
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "could not discard partial copy of device \"" + s.spec.name() + "\"", e);
                }
            }
        }
        try {
            listener.onFailed(ex);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "destination listener failed in onFailed", e);
        }
        devicesFuture.completeExceptionally(ex);
        grantFuture.completeExceptionally(ex);
        resumableFuture.completeExceptionally(ex);
        completedFuture.completeExceptionally(ex);
    }

    private static ProtocolException malformed(String detail) {
        return new ProtocolException(ErrorCode.MALFORMED_FRAME, "malformed frame: " + detail);
    }
}
