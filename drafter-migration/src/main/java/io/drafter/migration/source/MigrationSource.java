package io.drafter.migration.source;

import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.internal.BlockEncoder;
import io.drafter.migration.internal.Handshake;
import io.drafter.migration.internal.Link;
import io.drafter.migration.internal.PhaseMachine;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameAdapter;
import io.drafter.migration.protocol.FrameCipher;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.FrameProxy;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.transport.Connection;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The source side of a live migration, and the handle to it: one state machine ({@link SourcePhase}) that copies every
 * device, re-sends dirty blocks in rounds until each device converges ({@link DirtyPolicy}), calls the {@link
 * SuspendHook}, sends the final dirty sets and AUTHORITY, serves the destination's requests while it prepares, and
 * answers its TAKEOVER with a GRANT queued behind every block still to send. COMPLETED ends it.
 *
 * <p>Blocks go out least-volatile first; blocks the destination asks for (a reader is waiting) jump the queue. Devices
 * share the connection fairly: data frames go round-robin over devices that have credit from the destination.
 *
 * <p>Failure: until the GRANT frame is written the source stays authoritative; if the migration fails then (the
 * destination died before or after its TAKEOVER, the link dropped, anything), the engine resumes the writers through
 * {@link SuspendHook#resume()} when it had suspended them. A destination that received the GRANT has every block and
 * may run, so once the GRANT is written the engine never resumes on its own ({@link Authority#UNCERTAIN} until
 * COMPLETED): {@link #resumeSource()} does so on the caller's word, e.g. when the destination sent ABORTED ("I did not
 * run it"). The source devices are never modified or closed by the engine.
 *
 * <p>The engine composes small parts and keeps the threads, the lock and the order of events: {@link
 * io.drafter.migration.internal.PhaseMachine} (phases), {@link SendScheduler} (which block next), {@link RoundPolicy}
 * (rounds and convergence), {@link io.drafter.migration.internal.BlockEncoder} (ZERO, raw or zstd), {@link HandOver}
 * (acknowledgement, takeover, grant), {@link WriterResume} (who resumes the writers) and {@link SourceStats} (counters).
 * See {@code docs/architecture.md}.
 *
 * <p><b>Note:</b> thread-safe. The engine runs a control thread, a reader, a sender and a watchdog, all named after the
 * peer.
 */
public final class MigrationSource {
    private static final System.Logger LOG = System.getLogger(MigrationSource.class.getName());
    /** The phases in order; FAILED is reachable from every phase that has not ended. */
    static final PhaseMachine.Table<SourcePhase> PHASES = PhaseMachine.table(
                    SourcePhase.class, SourcePhase.FAILED, SourcePhase::terminal)
            .path(
                    SourcePhase.HANDSHAKE,
                    SourcePhase.FULL_COPY,
                    SourcePhase.DIRTY_ROUNDS,
                    SourcePhase.SUSPENDING,
                    SourcePhase.FINAL_SYNC,
                    SourcePhase.AUTHORITY_SENT,
                    SourcePhase.GRANTED,
                    SourcePhase.COMPLETED)
            // A source that never runs what it serves (SourceOptions.serveOnly) hands authority over at once.
            .path(SourcePhase.HANDSHAKE, SourcePhase.AUTHORITY_SENT)
            .path(SourcePhase.FAILED, SourcePhase.RESUMED);

    private final Connection connection;
    /** The listener's authenticated session this migration continues, or {@code null} (it authenticates itself). */
    private final AuthenticatedDestination session;

    private final String peer;
    private final SourceOptions options;
    private final SuspendHook hook;
    private final SourceListener listener;
    private final DevState[] states;
    /** Which block goes next; guarded by {@link #lock}. */
    private final SendScheduler scheduler;

    private final Link link;
    private final FrameAdapter adapter;
    private final FrameProxy proxy;
    private final long heartbeatNs;

    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when the sender may have something new to send. */
    private final Condition changed = lock.newCondition();
    /** Signalled when the control thread may have something to decide (a device drained, a phase changed). */
    private final Condition progress = lock.newCondition();

    private final ArrayDeque<Frame> control = new ArrayDeque<>();
    private final PhaseMachine<SourcePhase> phases =
            new PhaseMachine<>("source", PHASES, SourcePhase.HANDSHAKE, System::nanoTime);
    private volatile Authority authority = Authority.SOURCE;
    private MigrationException failure;
    /** Whether the hook suspended the writers, and who resumes them; guarded by {@link #lock}. */
    private final WriterResume writers;

    private volatile Thread readerThread;
    private boolean stopping;
    private boolean zstd;
    /** The destination keeps a copy and never runs it (a live backup); set once after the handshake. */
    private volatile boolean copyOnly;
    /** AUTHORITY_ACK, TAKEOVER, and the GRANT or its withholding; guarded by {@link #lock}. */
    private final HandOver handOver = new HandOver();
    /** The counters; rounds and times guarded by {@link #lock}. */
    private final SourceStats stats;

    private final CompletableFuture<Void> authorityFuture = new CompletableFuture<>();
    private final CompletableFuture<SourceCounters> completedFuture = new CompletableFuture<>();

    /** A device, its wire description and its convergence; guarded by {@link #lock}. */
    private static final class DevState {
        final int index;
        final SourceDevice device;
        final DeviceSpec spec;
        final RoundPolicy convergence;

        DevState(int index, SourceDevice device) {
            this.index = index;
            this.device = device;
            this.convergence = new RoundPolicy(device.policy());
            this.spec = new DeviceSpec(
                    device.name(),
                    device.tracked().sizeBytes(),
                    device.tracked().blockSizeBytes());
        }
    }

    private MigrationSource(
            Connection connection,
            AuthenticatedDestination session,
            List<SourceDevice> devices,
            SourceOptions options,
            SuspendHook hook,
            SourceListener listener)
            throws IOException {
        this.connection = connection;
        this.session = session;
        this.peer = connection.peer();
        this.options = options;
        this.hook = hook;
        this.writers = new WriterResume(hook);
        this.listener = listener == null ? SourceListener.NONE : listener;
        if (devices.isEmpty()) {
            throw new IllegalArgumentException("could not migrate to " + peer + ": no devices");
        }
        if (session != null && session.serveOnly() != options.serveOnly()) {
            // A listener that announced a registry to a destination that then got a running VM would let two run.
            throw new IllegalArgumentException("could not migrate to " + peer + ": the listener "
                    + (session.serveOnly() ? "announced" : "did not announce") + " a serve-only source");
        }
        this.states = new DevState[devices.size()];
        this.scheduler = new SendScheduler(states.length);
        for (int i = 0; i < states.length; i++) {
            states[i] = new DevState(i, devices.get(i));
            String problem = FrameCodec.validate(states[i].spec);
            if (problem != null) {
                throw new IllegalArgumentException("could not migrate to " + peer + ": " + problem);
            }
        }
        this.stats =
                new SourceStats(Arrays.stream(states).map(d -> d.spec.name()).toList());
        this.link = session != null
                ? new Link(connection, session.in(), session.out(), "destination", options.stallTimeout(), this::fail)
                : new Link(connection, "destination", options.stallTimeout(), 64 << 10, this::fail);
        this.adapter = link.in();
        this.proxy = link.out();
        this.heartbeatNs = link.heartbeatNs();
    }

    /**
     * Starts migrating {@code devices} over {@code connection}, which has not run the handshake: the engine
     * authenticates the destination itself (token from {@link SourceOptions#token()}), bounded by the stall timeout.
     * Returns at once. The caller keeps ownership of the devices and the connection is closed when the migration ends.
     * A server that must survive stray connections uses a {@link MigrationListener} and the other {@code start}.
     *
     * @throws IOException if the connection is plain TCP without a token and {@link SourceOptions#allowPlainTcp()} is
     *     off, or its streams cannot be opened
     */
    public static MigrationSource start(
            Connection connection,
            List<SourceDevice> devices,
            SourceOptions options,
            SuspendHook hook,
            SourceListener listener)
            throws IOException {
        Handshake.checkSecurity(connection, options.token(), options.allowPlainTcp(), "migrate to");
        if (Handshake.sealsFrames(connection, options.token())) {
            FrameCipher.warmUp();
        }
        return run(new MigrationSource(connection, null, List.copyOf(devices), options, hook, listener));
    }

    /**
     * Starts migrating {@code devices} to a destination that {@code session}'s listener authenticated: the session
     * goes on from the device group. Returns at once. {@link SourceOptions#token()} and {@link
     * SourceOptions#allowPlainTcp()} do not apply (the listener's do); zstd is used if the options ask for it and the
     * destination agreed. The session is closed when the migration ends (or here, if it cannot start), which frees the
     * listener for the next destination. The caller keeps ownership of the devices.
     *
     * @throws IOException if the session is closed already
     */
    public static MigrationSource start(
            AuthenticatedDestination session,
            List<SourceDevice> devices,
            SourceOptions options,
            SuspendHook hook,
            SourceListener listener)
            throws IOException {
        if (!session.isOpen()) {
            throw new IOException("could not migrate to " + session.peer() + ": the session is closed");
        }
        MigrationSource s;
        try {
            s = new MigrationSource(session.connection(), session, List.copyOf(devices), options, hook, listener);
        } catch (IOException | RuntimeException e) {
            session.close();
            throw e;
        }
        return run(s);
    }

    private static MigrationSource run(MigrationSource s) {
        s.link.start();
        Thread.ofPlatform().name("migration-source-control-" + s.peer).daemon().start(s::runControl);
        return s;
    }

    // ------------------------------------------------------------------ public handle

    /** The current phase. */
    public SourcePhase phase() {
        lock.lock();
        try {
            return phases.phase();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether the destination only keeps a copy (a live backup): the writers resume once the GRANT is written, and the
     * source stays the owner after COMPLETED. Known once the handshake is done.
     */
    public boolean copyOnly() {
        return copyOnly;
    }

    /** Who owns the devices as far as the source knows. */
    public Authority authority() {
        return authority;
    }

    /**
     * Waits until the destination acknowledged AUTHORITY (it applied every final dirty list and prepares). The source
     * still owns the devices then: they move only with the GRANT.
     */
    public void awaitAuthorityTransferred(Duration timeout) throws IOException, InterruptedException {
        Link.await(authorityFuture, timeout);
    }

    /**
     * Whether the GRANT was written (or began to be): from then on the destination may run, and after a failure the
     * hand-over is uncertain ({@link Authority#UNCERTAIN}) until someone knows the destination is stopped.
     */
    public boolean granted() {
        lock.lock();
        try {
            return handOver.granted();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until the destination confirmed that it runs (COMPLETED), and returns the final counters. */
    public SourceCounters awaitCompleted(Duration timeout) throws IOException, InterruptedException {
        return Link.await(completedFuture, timeout);
    }

    /** Stops the migration (the destination is told with an ERROR frame). Authority stays where it is. */
    public void abort() {
        fail(new ProtocolException(ErrorCode.ABORTED, "migration aborted at the source"));
    }

    /**
     * Stops the migration if the GRANT has not been written yet (the source still owns the devices, and resumes its
     * writers if it had suspended them); a migration that granted already goes on to its end. Decided under the
     * engine's lock, so the grant and the abort never both happen.
     *
     * @return whether this stopped the migration
     */
    public boolean abortBeforeGrant() {
        lock.lock();
        try {
            if (phases.ended() || !handOver.withhold()) {
                return false;
            }
        } finally {
            lock.unlock();
        }
        abort();
        return true;
    }

    /**
     * Takes authority back after a failed migration and restarts the writers ({@link SuspendHook#resume()}). Only call
     * this with {@link Authority#UNCERTAIN} or {@link Authority#DESTINATION} when the destination is known to be
     * stopped: otherwise two copies would run.
     *
     * @throws IllegalStateException if the migration has not failed (abort it first) or completed
     */
    public void resumeSource() throws Exception {
        WriterResume.Turn turn;
        lock.lock();
        try {
            SourcePhase phase = phases.phase();
            if (phase == SourcePhase.RESUMED) {
                return;
            }
            if (phase != SourcePhase.FAILED) {
                throw new IllegalStateException("could not resume at the source: migration is in phase " + phase
                        + (phase == SourcePhase.COMPLETED
                                ? " (the destination owns the devices)"
                                : "; abort it first"));
            }
            turn = writers.claimForCaller();
        } finally {
            lock.unlock();
        }
        writers.resume(turn); // WAIT: the engine resumes them; return once they run
        lock.lock();
        try {
            authority = Authority.SOURCE;
            transitionLocked(SourcePhase.RESUMED);
        } finally {
            lock.unlock();
        }
    }

    /** A snapshot of the counters. */
    public SourceCounters counters() {
        lock.lock();
        try {
            return stats.snapshot(proxy.bytesSent(), phases.phaseTimes());
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ state machine

    private void transitionLocked(SourcePhase to) {
        PhaseMachine.Transition<SourcePhase> t = phases.transition(to);
        if (t == null) {
            return;
        }
        changed.signalAll();
        progress.signalAll();
        LOG.log(Level.DEBUG, () -> "migration to " + peer + ": " + t.from() + " -> " + to + " after " + t.timeInFrom());
        try {
            listener.onPhase(t.from(), to, t.timeInFrom());
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "source listener failed in onPhase", e);
        }
    }

    private void checkNotFailed() throws MigrationException {
        if (failure != null) {
            throw failure;
        }
    }

    private void runControl() {
        WriterResume.Turn resumeTurn = null;
        try {
            Handshake.Replied replied = session != null
                    ? new Handshake.Replied(session.zstdAgreed(), session.copyOnly())
                    : Handshake.sourceAuthenticate(
                            adapter,
                            proxy,
                            peer,
                            options.compression(),
                            options.token(),
                            Handshake.sealsFrames(connection, options.token()),
                            options.serveOnly());
            boolean zstdAgreed = replied.zstd() && options.compression();
            Handshake.Agreed agreed = Handshake.sourceGroup(
                    adapter,
                    proxy,
                    peer,
                    Arrays.stream(states).map(d -> d.spec).toList(),
                    zstdAgreed,
                    options.serveOnly());
            lock.lock();
            try {
                zstd = agreed.zstd();
                copyOnly = replied.copyOnly();
                scheduler.initialCredit(agreed.initialCredit());
            } finally {
                lock.unlock();
            }
            readerThread = Thread.ofPlatform()
                    .name("migration-source-reader-" + peer)
                    .daemon()
                    .unstarted(this::runReader);
            link.reader(readerThread);
            readerThread.start();
            Thread.ofPlatform().name("migration-source-sender-" + peer).daemon().start(this::runSender);

            // Tracking starts before the first read of the full copy, so every later write is seen by some round.
            for (DevState d : states) {
                d.device.tracked().startTracking();
            }
            List<long[]> orders = new ArrayList<>();
            for (DevState d : states) {
                orders.add(
                        d.device.volatility() != null
                                ? d.device.volatility().leastVolatileFirst()
                                : identity(d.spec.blockCount()));
            }
            if (options.serveOnly()) {
                serveLocked(orders);
                return;
            }
            lock.lock();
            try {
                checkNotFailed();
                transitionLocked(SourcePhase.FULL_COPY);
                for (DevState d : states) {
                    scheduler.fullCopy(d.index, orders.get(d.index));
                }
                changed.signalAll();
                awaitLocked(scheduler::allDrained);
                transitionLocked(SourcePhase.DIRTY_ROUNDS);
                runRoundsLocked();
            } finally {
                lock.unlock();
            }

            lock.lock();
            try {
                checkNotFailed();
                transitionLocked(SourcePhase.SUSPENDING);
                writers.hookEntered();
            } finally {
                lock.unlock();
            }
            try {
                hook.suspend();
            } finally {
                settleAfterSuspendHook();
            }
            lock.lock();
            try {
                checkNotFailed();
                transitionLocked(SourcePhase.FINAL_SYNC);
                for (DevState d : states) {
                    long[] last = toArray(d.device.tracked().collect());
                    int round = d.convergence.finalRound();
                    stats.round(d.index, last.length);
                    enqueueDirtyLocked(d, round, last, true);
                    listener.onDirtyRound(d.spec.name(), round, last.length, true);
                }
                control.add(new Frame.Authority(options.authorityPayload()));
                transitionLocked(SourcePhase.AUTHORITY_SENT);
                changed.signalAll();
                // The sender writes the GRANT once TAKEOVER arrived and every block is out; COMPLETED ends it.
                if (copyOnly) {
                    // A copy: once every block of the cut is read and written ahead of the GRANT, the writers go on.
                    awaitLocked(() -> phases.phase() == SourcePhase.GRANTED || phases.phase() == SourcePhase.COMPLETED);
                    resumeTurn = writers.claimForEngine();
                } else {
                    awaitLocked(() -> phases.phase() == SourcePhase.COMPLETED);
                }
            } finally {
                lock.unlock();
            }
            if (resumeTurn != null) {
                writers.resume(resumeTurn);
                lock.lock();
                try {
                    awaitLocked(() -> phases.phase() == SourcePhase.COMPLETED);
                } finally {
                    lock.unlock();
                }
            }
        } catch (MigrationException e) {
            // Already failed: fail() recorded it.
        } catch (Throwable t) {
            fail(t);
        } finally {
            maybeResumeAfterFailure();
        }
    }

    /**
     * A serve-only source: AUTHORITY first (nothing to suspend, nothing changes), then every block, requested ones
     * first; the GRANT follows the last one once the destination asked for it, and COMPLETED ends it.
     */
    private void serveLocked(List<long[]> orders) throws MigrationException, InterruptedException {
        lock.lock();
        try {
            checkNotFailed();
            control.add(new Frame.Authority(options.authorityPayload()));
            transitionLocked(SourcePhase.AUTHORITY_SENT);
            // One device after another, in the order given (the caller puts first what a destination needs first to
            // run); what the destination reads jumps the queue anyway, and a device out of credit lets the next go.
            for (DevState d : states) {
                scheduler.rank(d.index, d.index);
            }
            for (DevState d : states) {
                scheduler.fullCopy(d.index, orders.get(d.index));
            }
            changed.signalAll();
            awaitLocked(() -> phases.phase() == SourcePhase.COMPLETED);
        } finally {
            lock.unlock();
        }
    }

    /** Dirty rounds under Drafter's rules until every device is ready. Holds {@link #lock}. */
    private void runRoundsLocked() throws MigrationException, InterruptedException {
        for (DevState d : states) {
            if (d.convergence.begin()) {
                listener.onDeviceReady(d.spec.name(), d.convergence.cycles());
            }
        }
        while (!Arrays.stream(states).allMatch(d -> d.convergence.ready())) {
            checkNotFailed();
            long now = System.nanoTime();
            long wakeNs = now + TimeUnit.MILLISECONDS.toNanos(50);
            for (DevState d : states) {
                RoundPolicy c = d.convergence;
                if (c.ready()) {
                    continue;
                }
                if (c.roundOutstanding()) {
                    if (!scheduler.drained(d.index)) {
                        continue;
                    }
                    if (c.roundSent()) {
                        listener.onDeviceReady(d.spec.name(), c.cycles());
                        continue;
                    }
                }
                if (c.due(now)) {
                    long[] blocks = toArray(d.device.tracked().collect());
                    int round = c.startRound(now, blocks.length);
                    stats.round(d.index, blocks.length);
                    enqueueDirtyLocked(d, round, blocks, false);
                    listener.onDirtyRound(d.spec.name(), round, blocks.length, false);
                    if (blocks.length == 0) {
                        wakeNs = now; // nothing to send: evaluate it right away
                    }
                } else {
                    wakeNs = Math.min(wakeNs, c.nextDueNs());
                }
            }
            progress.awaitNanos(Math.max(100_000L, wakeNs - System.nanoTime()));
        }
    }

    private void enqueueDirtyLocked(DevState d, int round, long[] blocks, boolean last) {
        for (int from = 0; from < blocks.length; from += FrameCodec.MAX_DIRTY_PER_FRAME) {
            int to = Math.min(blocks.length, from + FrameCodec.MAX_DIRTY_PER_FRAME);
            control.add(new Frame.DirtyBlocks(
                    d.index, round, last && to == blocks.length, Arrays.copyOfRange(blocks, from, to)));
        }
        scheduler.dirty(d.index, blocks);
        changed.signalAll();
    }

    private void awaitLocked(BooleanSupplier done) throws MigrationException, InterruptedException {
        while (!done.getAsBoolean()) {
            checkNotFailed();
            progress.await(100, TimeUnit.MILLISECONDS);
        }
        checkNotFailed();
    }

    // ------------------------------------------------------------------ reader

    private void runReader() {
        try {
            while (true) {
                Frame f = adapter.read();
                switch (f) {
                    case Frame.Need n -> onNeed(n);
                    case Frame.Credit c -> onCredit(c);
                    case Frame.AuthorityAck _ -> onAuthorityAck();
                    case Frame.Takeover _ -> onTakeover();
                    case Frame.Completed _ -> {
                        onCompleted();
                        return;
                    }
                    case Frame.Ping _ -> {}
                    case Frame.Error e -> throw Handshake.peerError(e, peer);
                    default ->
                        throw Handshake.unexpected(f, "NEED, CREDIT, AUTHORITY_ACK, TAKEOVER, COMPLETED or PING");
                }
            }
        } catch (IOException | RuntimeException e) {
            fail(e);
        } finally {
            link.readerDone();
        }
    }

    private DevState device(int index, long block) throws ProtocolException {
        if (index >= states.length) {
            throw new ProtocolException(
                    ErrorCode.MALFORMED_FRAME, "malformed frame: device " + index + " of " + states.length);
        }
        DevState d = states[index];
        if (block >= d.spec.blockCount()) {
            throw new ProtocolException(
                    ErrorCode.MALFORMED_FRAME,
                    "malformed frame: block " + block + " of device \"" + d.spec.name() + "\" which has "
                            + d.spec.blockCount());
        }
        return d;
    }

    private void onNeed(Frame.Need n) throws ProtocolException {
        DevState d = device(n.device(), n.block());
        lock.lock();
        try {
            if (handOver.granted()) {
                // Sent before the destination read the GRANT, which followed every block: it has this one already.
                return;
            }
            if (scheduler.need(d.index, n.block())) {
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
        listener.onPriorityRequest(d.spec.name(), n.block());
    }

    private void onCredit(Frame.Credit c) throws ProtocolException {
        DevState d = device(c.device(), 0);
        lock.lock();
        try {
            if ((long) scheduler.credit(d.index) + c.frames() > 4L * FrameCodec.MAX_CREDIT) {
                throw new ProtocolException(ErrorCode.FLOW_CONTROL, "destination granted more credit than it can hold");
            }
            scheduler.addCredit(d.index, c.frames());
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void onAuthorityAck() throws ProtocolException {
        lock.lock();
        try {
            // The destination acknowledges before it asks to take over, so this comes before any GRANT.
            if (phases.phase() != SourcePhase.AUTHORITY_SENT || !handOver.acknowledge()) {
                throw new ProtocolException(
                        ErrorCode.UNEXPECTED_FRAME, "unexpected AUTHORITY_ACK in phase " + phases.phase());
            }
            stats.authorityAcknowledged(System.nanoTime());
        } finally {
            lock.unlock();
        }
        authorityFuture.complete(null);
    }

    private void onTakeover() throws ProtocolException {
        lock.lock();
        try {
            if (phases.phase() != SourcePhase.AUTHORITY_SENT || !handOver.request()) {
                throw new ProtocolException(
                        ErrorCode.UNEXPECTED_FRAME, "unexpected TAKEOVER in phase " + phases.phase());
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void onCompleted() throws ProtocolException {
        lock.lock();
        try {
            if (phases.phase() != SourcePhase.GRANTED) {
                throw new ProtocolException(
                        ErrorCode.UNEXPECTED_FRAME, "unexpected COMPLETED in phase " + phases.phase());
            }
            if (!copyOnly) {
                authority = Authority.DESTINATION;
            }
            transitionLocked(SourcePhase.COMPLETED);
            stopping = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        link.stopWatchdog();
        connection.close();
        completedFuture.complete(counters());
    }

    // ------------------------------------------------------------------ sender

    private void runSender() {
        int maxBlock = Arrays.stream(states)
                .mapToInt(d -> d.spec.blockSizeBytes())
                .max()
                .orElse(0);
        // Set before this thread started; the encoder keeps room for the frame header and a sealed frame's tag.
        BlockEncoder encoder = new BlockEncoder(maxBlock, zstd);
        boolean unflushed = false;
        try {
            while (true) {
                Outgoing w;
                lock.lock();
                try {
                    while ((w = pickLocked()) == null) {
                        if (stopping) {
                            return;
                        }
                        if (unflushed) {
                            break;
                        }
                        long idle = System.nanoTime() - proxy.lastSendNanos();
                        if (idle >= heartbeatNs) {
                            w = new Outgoing.Control(new Frame.Ping(System.nanoTime()));
                            break;
                        }
                        changed.awaitNanos(heartbeatNs - idle);
                    }
                } finally {
                    lock.unlock();
                }
                if (w == null) {
                    proxy.flush();
                    unflushed = false;
                    continue;
                }
                switch (w) {
                    case Outgoing.Control c -> proxy.send(c.frame());
                    case Outgoing.Block b -> {
                        try {
                            sendBlock(b, encoder);
                        } finally {
                            lock.lock();
                            try {
                                // Only a drained device interests the control thread; waking it per block costs a
                                // context switch per block.
                                if (scheduler.sent(b.device())) {
                                    progress.signalAll();
                                }
                            } finally {
                                lock.unlock();
                            }
                        }
                    }
                }
                unflushed = true;
            }
        } catch (IOException | RuntimeException e) {
            // A peer that rejects something sends an ERROR and closes; let the reader report that reason rather
            // than the broken pipe it causes here.
            Thread reader = readerThread;
            if (reader != null) {
                try {
                    reader.join(Duration.ofMillis(500));
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                }
            }
            fail(e);
        } catch (InterruptedException e) {
            fail(new IOException("sender interrupted", e));
        }
    }

    /**
     * The next thing to send: control frames, then the block the {@link SendScheduler} picks, and last the GRANT when
     * the destination asked for it and nothing else is left. Holds the lock.
     */
    private Outgoing pickLocked() {
        Frame f = control.poll();
        if (f != null) {
            return new Outgoing.Control(f);
        }
        Outgoing.Block b = scheduler.pick();
        if (b != null) {
            return b;
        }
        if (phases.phase() == SourcePhase.AUTHORITY_SENT && handOver.grantDue(control.isEmpty() && scheduler.idle())) {
            // Every block the destination lacked is written ahead of this frame on the same stream, so a destination
            // that reads the GRANT has every block. From here on it may run: never resume on our own.
            handOver.grant();
            stats.granted(System.nanoTime());
            if (!copyOnly) {
                authority = Authority.UNCERTAIN;
            }
            transitionLocked(SourcePhase.GRANTED);
            return new Outgoing.Control(new Frame.Grant());
        }
        return null;
    }

    private void sendBlock(Outgoing.Block w, BlockEncoder encoder) throws IOException {
        DevState d = states[w.device()];
        DeviceSpec spec = d.spec;
        int len = spec.blockLength(w.block());
        ByteBuffer buf = encoder.readBuffer(len);
        int start = buf.position();
        long offset = w.block() * spec.blockSizeBytes();
        while (buf.hasRemaining()) {
            int r = d.device.tracked().read(buf, offset + buf.position() - start);
            if (r <= 0) {
                throw new IOException("could not read block " + w.block() + " of device \"" + spec.name()
                        + "\": short read at byte " + (buf.position() - start) + " of " + len);
            }
        }
        stats.blockRead(len, w.priority());
        Frame f = encoder.encode(w.device(), w.block(), len);
        if (f instanceof Frame.BlockData b) {
            stats.blockFrame(b);
        }
        proxy.send(f);
        if (f instanceof Frame.ZeroBlocks z) {
            stats.zeroFrameSent(z);
        }
    }

    // ------------------------------------------------------------------ failure

    private void fail(Throwable cause) {
        MigrationException ex;
        lock.lock();
        try {
            if (phases.ended()) {
                return;
            }
            SourcePhase at = phases.phase();
            String detail = cause.getMessage() == null ? cause.toString() : cause.getMessage();
            String hint = "";
            if (authority == Authority.UNCERTAIN) {
                hint = cause instanceof ProtocolException pe && pe.fromPeer() && pe.code() == ErrorCode.ABORTED
                        ? "; the destination says it did not run the VM: resumeSource() takes it back"
                        : "; the hand-over was granted and the destination may run the VM: this side does not resume"
                                + " it unless told the destination is stopped";
            }
            ex = new MigrationException(
                    "could not migrate to " + peer + " (phase " + at + ", authority " + authority + "): " + detail
                            + hint,
                    at.name(),
                    authority,
                    cause);
            failure = ex;
            stopping = true;
            transitionLocked(SourcePhase.FAILED);
        } finally {
            lock.unlock();
        }
        LOG.log(Level.WARNING, ex.getMessage());
        link.failAndClose(cause, ex.getMessage());
        maybeResumeAfterFailure();
        try {
            listener.onFailed(ex);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "source listener failed in onFailed", e);
        }
        lock.lock();
        try {
            if (writers.inHook()) {
                // The control thread finishes the failure when the hook returns: callers then see a settled source.
                return;
            }
        } finally {
            lock.unlock();
        }
        authorityFuture.completeExceptionally(ex);
        completedFuture.completeExceptionally(ex);
    }

    /** Marks the writers suspended; if the migration failed meanwhile, resumes them and reports the failure. */
    private void settleAfterSuspendHook() {
        MigrationException failed;
        lock.lock();
        try {
            writers.hookReturned();
            stats.suspendReturned(System.nanoTime());
            failed = failure;
        } finally {
            lock.unlock();
        }
        if (failed != null) {
            maybeResumeAfterFailure();
            authorityFuture.completeExceptionally(failed);
            completedFuture.completeExceptionally(failed);
        }
    }

    /** Restarts the writers if the source suspended them and still owns the devices after a failure. */
    private void maybeResumeAfterFailure() {
        WriterResume.Turn turn;
        lock.lock();
        try {
            if (phases.phase() != SourcePhase.FAILED || authority != Authority.SOURCE) {
                return;
            }
            turn = writers.claimForEngine();
        } finally {
            lock.unlock();
        }
        try {
            // WAIT: another engine thread resumes the writers; the failure is reported only once they run again, so a
            // caller that sees it finds the source settled.
            writers.resume(turn);
        } catch (Exception e) {
            LOG.log(Level.ERROR, "could not resume the source after a failed migration to " + peer, e);
        }
    }

    private static long[] identity(long n) {
        long[] order = new long[(int) n];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        return order;
    }

    private static long[] toArray(BitSet set) {
        return set.stream().asLongStream().toArray();
    }
}
