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
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
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
 * <p>The engine composes small parts: {@link DestinationAgent} (the one thread that decides: phases through {@link
 * io.drafter.migration.internal.PhaseMachine}, the hand-over through {@link TakeoverGate}, a failure's {@link
 * FailureOutcome}, and every frame sent), {@link DeviceSink} (one device's bounded queue of {@link ApplyItem}s and how
 * each is applied, decoded by {@link io.drafter.migration.internal.BlockDecoder}) and {@link CreditReturn} (credit back
 * to the source). See {@code docs/architecture.md}.
 *
 * <p><b>Note:</b> thread-safe. Runs a reader (which also does the handshake and routes each frame it checked: data to
 * its device's queue, the rest to the agent), the control agent, one applier per device and a watchdog, all platform
 * threads: their progress must not depend on a free carrier of the virtual threads.
 */
public final class MigrationDestination {
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
    private final DestinationAgent agent;
    /** The devices as the reader opens them; the list is the agent's to read. */
    private final List<DeviceSink> sinks = Collections.synchronizedList(new ArrayList<>());
    /** The queued dirty lists of every device, in blocks (see {@link DeviceSink}). */
    private final Semaphore dirtyBudget = new Semaphore(DeviceSink.DIRTY_BUDGET_BLOCKS);

    // Set by the reader before it starts the appliers.
    private boolean zstd;
    private int credit;
    private volatile BufferPool pool;

    private final AtomicLong blocksRequested = new AtomicLong();

    private MigrationDestination(
            Connection connection, DestinationStorage storage, DestinationOptions options, DestinationListener listener)
            throws IOException {
        this.connection = connection;
        this.peer = connection.peer();
        this.storage = storage;
        this.options = options;
        this.listener = listener == null ? DestinationListener.NONE : listener;
        this.link = new Link(connection, "source", options.stallTimeout(), 16 << 10, e -> agent().report(e));
        this.adapter = link.in();
        this.proxy = link.out();
        this.agent = new DestinationAgent(peer, link, storage, options, this.listener, sinks, this::counters);
    }

    private DestinationAgent agent() {
        return agent;
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
        Thread reader = Thread.ofPlatform()
                .name("migration-destination-reader-" + d.peer)
                .daemon()
                .unstarted(d::runReader);
        d.link.reader(reader);
        d.agent.reader(reader);
        d.agent.start();
        d.link.start();
        reader.start();
        return d;
    }

    // ------------------------------------------------------------------ public handle

    public DestinationPhase phase() {
        return agent.view().phase();
    }

    /** Who owns the devices as far as this side knows: this side only from the grant on. */
    public Authority authority() {
        DestinationAgent.View v = agent.view();
        return switch (v.phase()) {
            case FETCHING, GRANTED, COMPLETED -> Authority.DESTINATION;
            case FAILED -> v.failure().authority();
            default -> Authority.SOURCE;
        };
    }

    /** Waits for the handshake and returns the devices (their reads wait for missing blocks). */
    public Map<String, WaitingDevice> awaitDevices(Duration timeout) throws IOException, InterruptedException {
        return Link.await(agent.devicesFuture, timeout);
    }

    /**
     * Waits until the caller may go on. With {@link DestinationOptions#explicitTakeover()}: AUTHORITY arrived (and,
     * with {@link DestinationOptions#waitForAllBlocks()}, every block is here), so the caller may prepare (load state)
     * but must not run before {@link #takeOver} returned. Without it: the GRANT arrived, every block is here, and the
     * caller may run.
     */
    public Resumable awaitResumable(Duration timeout) throws IOException, InterruptedException {
        return Link.await(agent.resumableFuture, timeout);
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
        CompletableFuture<Boolean> reply = new CompletableFuture<>();
        agent.post(new DestinationAgent.TakeOver(reply));
        boolean waitForGrant;
        try {
            waitForGrant = reply.get();
        } catch (ExecutionException e) {
            switch (e.getCause()) {
                case RuntimeException r -> throw r;
                case IOException io -> throw io;
                default -> throw new IOException(e.getCause());
            }
        }
        if (!waitForGrant) {
            return;
        }
        try {
            Link.await(agent.grantFuture, timeout);
        } catch (MigrationException e) {
            throw e;
        } catch (IOException e) {
            agent.failAndWait(new ProtocolException(
                    ErrorCode.ABORTED,
                    "no GRANT from source " + peer + " within " + Watchdog.seconds(timeout.toNanos())));
            MigrationException failure = agent.view().failure();
            if (failure != null) {
                throw failure;
            }
            // The GRANT won the race with the timeout (and COMPLETED went out already).
        }
    }

    /** Waits until the source was told that this side runs (COMPLETED). */
    public DestinationCounters awaitCompleted(Duration timeout) throws IOException, InterruptedException {
        return Link.await(agent.completedFuture, timeout);
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
        CompletableFuture<Void> reply = new CompletableFuture<>();
        agent.post(new DestinationAgent.Confirm(reply));
        try {
            reply.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw e;
        }
    }

    /**
     * Stops the migration; the source is told with an ERROR frame ABORTED. Before the grant the partial copy is
     * discarded and the source keeps the VM. After the grant it means "I did not run it": the copy stays, and the
     * source's caller may take the VM back. Call it after the grant only if nothing ran on these devices.
     */
    public void abort() {
        agent.abort();
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
        Map<DestinationPhase, Duration> phaseTimes = new EnumMap<>(DestinationPhase.class);
        phaseTimes.putAll(agent.view().phaseTimes());
        return new DestinationCounters(
                adapter.bytesReceived(),
                blocksReceived,
                zeroBlocks,
                dirtyBlocks,
                blocksRequested.get(),
                waits,
                Duration.ofNanos(waitNs),
                phaseTimes,
                perDevice);
    }

    // ------------------------------------------------------------------ reader

    /**
     * The handshake, then every frame: checked against its device and queued for its applier (waiting while the queue
     * is full), or handed to the agent (AUTHORITY, GRANT, behind a barrier on every device).
     */
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
            agent.post(new DestinationAgent.HelloDone());
            Handshake.Agreed agreed =
                    Handshake.destinationRest(adapter, proxy, peer, opened, options.token(), this::openDevices);
            zstd = agreed.zstd();
            boolean runEarly = agreed.serveOnly() && options.explicitTakeover() && !options.waitForAllBlocks();
            int maxBlock = agreed.devices().stream()
                    .mapToInt(DeviceSpec::blockSizeBytes)
                    .max()
                    .orElse(FrameCodec.MIN_BLOCK_BYTES);
            pool = new BufferPool(maxBlock + 64, (credit + 4) * agreed.devices().size());
            adapter.usePool(pool);
            DeviceSink[] devices;
            synchronized (sinks) {
                devices = sinks.toArray(DeviceSink[]::new);
            }
            for (DeviceSink s : devices) {
                // Platform threads: a reader of these devices in this JVM (a FUSE read, say) may block every carrier
                // of the virtual threads while it waits for a block that only an applier can supply.
                s.applier = Thread.ofPlatform()
                        .name("migration-destination-apply-" + s.spec.name())
                        .daemon()
                        .start(() -> runApplier(s));
            }
            agent.post(new DestinationAgent.DevicesOpened(runEarly));
            boolean grantRead = false;
            while (true) {
                Frame f = adapter.read();
                switch (f) {
                    case Frame.BlockData d -> {
                        checkBeforeGrant(f, grantRead);
                        DeviceSink s = sink(devices, d.device(), d.block());
                        if (d.rawLength() != s.spec.blockLength(d.block())) {
                            throw malformed("BLOCK " + d.block() + " of device \"" + s.spec.name() + "\" claims "
                                    + d.rawLength() + " bytes, the block holds " + s.spec.blockLength(d.block()));
                        }
                        if (d.encoding() == Frame.BlockData.ZSTD && !zstd) {
                            throw malformed("compressed BLOCK although compression was not agreed");
                        }
                        queue(s, new ApplyItem.Block(d));
                    }
                    case Frame.ZeroBlocks z -> {
                        checkBeforeGrant(f, grantRead);
                        DeviceSink s = sink(devices, z.device(), z.firstBlock());
                        if (z.firstBlock() + z.count() > s.spec.blockCount()) {
                            throw malformed("ZERO blocks " + z.firstBlock() + "+" + z.count() + " beyond device \""
                                    + s.spec.name() + "\" of " + s.spec.blockCount() + " blocks");
                        }
                        queue(s, new ApplyItem.Zeros(z));
                    }
                    case Frame.DirtyBlocks x -> {
                        checkBeforeGrant(f, grantRead);
                        DeviceSink s = sink(devices, x.device(), 0);
                        for (long b : x.blocks()) {
                            sink(devices, x.device(), b);
                        }
                        queue(s, new ApplyItem.Dirty(x));
                    }
                    case Frame.Authority a -> {
                        // The agent learns of it first: an applier may pass the barrier before this thread goes on.
                        CountDownLatch applied = new CountDownLatch(devices.length);
                        agent.post(new DestinationAgent.AuthorityArrived(a.payload(), applied));
                        barrier(devices, applied);
                    }
                    case Frame.Grant _ -> {
                        grantRead = true;
                        CountDownLatch applied = new CountDownLatch(devices.length);
                        agent.post(new DestinationAgent.GrantArrived(applied));
                        barrier(devices, applied);
                    }
                    case Frame.Ping _ -> {}
                    case Frame.Error e -> throw Handshake.peerError(e, peer);
                    default -> throw Handshake.unexpected(f, "BLOCK, ZERO, DIRTY, AUTHORITY, GRANT or PING");
                }
            }
        } catch (IOException | RuntimeException | InterruptedException e) {
            // After COMPLETED the source closes the connection: that end is the expected one, and ours goes too.
            if (phase() == DestinationPhase.COMPLETED) {
                connection.close();
            } else {
                agent.report(e);
            }
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
        credit = c;
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
            sinks.add(new DeviceSink(i, spec, o, c, block -> onMissing(index, spec, block), dirtyBudget));
        }
        return c;
    }

    private static DeviceSink sink(DeviceSink[] devices, int device, long block) throws ProtocolException {
        if (device >= devices.length) {
            throw malformed("device " + device + " of " + devices.length);
        }
        DeviceSink s = devices[device];
        if (block >= s.spec.blockCount()) {
            throw malformed("block " + block + " of device \"" + s.spec.name() + "\" which has " + s.spec.blockCount());
        }
        return s;
    }

    /** Queues {@code item} for its applier, waiting for room; a data frame beyond the credit is refused. */
    private void queue(DeviceSink s, ApplyItem item) throws IOException, InterruptedException {
        switch (s.put(item, agent::ended)) {
            case QUEUED -> {}
            case OVER_CREDIT ->
                throw new ProtocolException(
                        ErrorCode.FLOW_CONTROL,
                        "source sent more than its credit of " + credit + " frames for device \"" + s.spec.name()
                                + "\"");
            case STOPPED -> throw new IOException("the migration from " + peer + " ended");
        }
    }

    /** Data may arrive only before the GRANT: the source sends it behind every block. */
    private static void checkBeforeGrant(Frame f, boolean grantRead) throws ProtocolException {
        if (grantRead) {
            throw new ProtocolException(
                    ErrorCode.UNEXPECTED_FRAME, "unexpected " + f.getClass().getSimpleName() + " after GRANT");
        }
    }

    /** Puts a barrier behind what is queued on every device; each applier counts {@code applied} down. */
    private void barrier(DeviceSink[] devices, CountDownLatch applied) throws IOException, InterruptedException {
        for (DeviceSink s : devices) {
            queue(s, new ApplyItem.Barrier(applied));
        }
    }

    // ------------------------------------------------------------------ appliers

    private void runApplier(DeviceSink s) {
        CreditReturn credits = new CreditReturn(credit);
        try {
            while (true) {
                ApplyItem item = s.take();
                if (s.apply(item, pool)) {
                    credits.applied();
                } else if (item instanceof ApplyItem.Barrier) {
                    agent.wake();
                }
                boolean idle = s.idle();
                int returned = credits.due(idle);
                if (returned > 0) {
                    s.returnCredit(returned);
                    agent.wake();
                }
                if (idle) {
                    long now = System.nanoTime();
                    if (now - s.lastProgressNs > 100_000_000L) {
                        s.lastProgressNs = now;
                        listener.onProgress(s.spec.name(), s.waiting.presentBlockCount(), s.spec.blockCount());
                    }
                    if (phase() == DestinationPhase.AUTHORITATIVE) {
                        agent.blocksArrived();
                    }
                }
            }
        } catch (InterruptedException e) {
            // Stopped by the agent.
        } catch (ProtocolException e) {
            agent.report(e);
        } catch (IOException | RuntimeException e) {
            if (!phase().terminal()) {
                agent.report(new ProtocolException(
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
        agent.post(new DestinationAgent.Need(device, block));
        listener.onMissingBlock(spec.name(), block);
    }

    private static ProtocolException malformed(String detail) {
        return new ProtocolException(ErrorCode.MALFORMED_FRAME, "malformed frame: " + detail);
    }
}
