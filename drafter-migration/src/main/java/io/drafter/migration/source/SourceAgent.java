package io.drafter.migration.source;

import io.drafter.migration.MigrationException;
import io.drafter.migration.internal.BackoffIdle;
import io.drafter.migration.internal.BlockEncoder;
import io.drafter.migration.internal.Handshake;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.FrameProxy;
import io.drafter.migration.protocol.ProtocolException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The source engine's one thread, in the spirit of Aeron's agents: it owns every piece of engine state (the {@link
 * SendScheduler}, each device's {@link RoundPolicy}, the {@link HandOver}, the queue of control frames, the block
 * encoder) and runs a duty cycle, with no lock:
 *
 * <ol>
 *   <li>drain the {@link SourceInbox}: the reader's frames (NEED, CREDIT, AUTHORITY_ACK, TAKEOVER, COMPLETED) and the
 *       short-lived threads' signals (the suspend hook returned, the writers resumed);
 *   <li>step the phase logic: full copy drained, dirty rounds due or converged, suspend (on a thread of its own, so
 *       that NEEDs are answered and PINGs sent while the hook runs), final dirty sets and AUTHORITY;
 *   <li>send up to {@link #SENDS_PER_CYCLE} frames: control frames first, then the scheduler's picks, last the GRANT;
 *   <li>with nothing done: flush, or PING after a heartbeat of quiet, or idle ({@link BackoffIdle}) until an offer to
 *       the inbox, the next round or the next heartbeat.
 * </ol>
 *
 * <p>Before the cycle it runs the handshake (nothing else to do then) and starts the reader; when the migration ended
 * it settles a failure: announces it, resumes the writers if the source still owns them (after the suspend hook
 * returned, if it runs), tells the listener, and only then fails the futures, so a caller that sees the failure finds
 * the source settled. Phase changes are compare-and-sets on the {@link SourceState} that {@link MigrationSource}
 * publishes; a failure from another thread is one too, and the agent notices it at its next step.
 *
 * <p><b>Note:</b> one instance per migration, run by one thread; other threads only reach it through the inbox.
 */
final class SourceAgent implements Runnable {
    private static final System.Logger LOG = System.getLogger(MigrationSource.class.getName());
    /** Frames the reader may queue ahead of the agent before it blocks. */
    static final int INBOX_FRAMES = 4096;
    /** Frames written in one duty cycle before the agent looks at its inbox again. */
    static final int SENDS_PER_CYCLE = 64;
    /** The longest the dirty rounds go without being looked at. */
    private static final long ROUND_RECHECK_NS = TimeUnit.MILLISECONDS.toNanos(50);

    /** A device, its wire description and its convergence. */
    private static final class Dev {
        final int index;
        final SourceDevice device;
        final DeviceSpec spec;
        final RoundPolicy convergence;

        Dev(int index, SourceDevice device, DeviceSpec spec) {
            this.index = index;
            this.device = device;
            this.spec = spec;
            this.convergence = new RoundPolicy(device.policy());
        }
    }

    private final MigrationSource source;
    private final SourceOptions options;
    private final SourceListener listener;
    private final List<DeviceSpec> specs;
    private final Dev[] devs;
    private final SendScheduler scheduler;
    private final HandOver handOver = new HandOver();
    private final ArrayDeque<Frame> control = new ArrayDeque<>();
    private final SourceInbox inbox;
    /**
     * Parks at once, as the lock-based engine's sender did: spinning or yielding between credits took the CPU from the
     * threads that return them on a small machine (the hand-over of {@code scripts/bench-migration.sh} went from about 13
     * to 21 ms with 20 spins and 4 yields on 2 cores, throughput unchanged).
     */
    private final BackoffIdle idle = new BackoffIdle(0, 0);

    private final FrameProxy proxy;
    private final long heartbeatNs;

    private BlockEncoder encoder;
    private boolean copyOnly;
    private boolean unflushed;
    private long roundWakeNs;
    /** The hook prepared the suspend: once the last live round is out, it suspends. */
    private boolean liveRoundPending;
    /** What the hook's {@link SuspendHook#settling()} left to do is done: the GRANT may go. */
    private boolean settled = true;

    private Thread reader;
    /** The thread that resumes the writers after the GRANT of a copy, and what it threw; {@code null} before. */
    private Thread resumer;

    private volatile Throwable resumeError;

    SourceAgent(MigrationSource source, List<SourceDevice> devices, List<DeviceSpec> specs, SourceInbox inbox) {
        this.source = source;
        this.options = source.options;
        this.listener = source.listener;
        this.specs = specs;
        this.devs = new Dev[devices.size()];
        for (int i = 0; i < devs.length; i++) {
            devs[i] = new Dev(i, devices.get(i), specs.get(i));
        }
        this.scheduler = new SendScheduler(devs.length);
        this.inbox = inbox;
        this.proxy = source.link.out();
        this.heartbeatNs = source.link.heartbeatNs();
    }

    @Override
    public void run() {
        try {
            handshake();
            begin();
            while (cycle()) {
                // one duty cycle per turn
            }
        } catch (Throwable t) {
            source.fail(t);
        } finally {
            settle();
        }
    }

    // ------------------------------------------------------------------ before the cycle

    private void handshake() throws IOException {
        MigrationSource s = source;
        Handshake.Replied replied = s.session != null
                ? new Handshake.Replied(s.session.zstdAgreed(), s.session.copyOnly())
                : Handshake.sourceAuthenticate(
                        s.link.in(),
                        proxy,
                        s.peer,
                        options.compression(),
                        options.token(),
                        Handshake.sealsFrames(s.link.connection(), options.token()),
                        options.serveOnly());
        boolean zstdAgreed = replied.zstd() && options.compression();
        Handshake.Agreed agreed =
                Handshake.sourceGroup(s.link.in(), proxy, s.peer, specs, zstdAgreed, options.serveOnly());
        copyOnly = replied.copyOnly();
        s.copyOnly(copyOnly);
        scheduler.initialCredit(agreed.initialCredit());
        int maxBlock = specs.stream().mapToInt(DeviceSpec::blockSizeBytes).max().orElse(0);
        // The encoder keeps room for the frame header and a sealed frame's tag.
        encoder = new BlockEncoder(maxBlock, agreed.zstd());
        reader = Thread.ofPlatform()
                .name("migration-source-reader-" + s.peer)
                .daemon()
                .unstarted(new SourceReader(s, s.link, specs, inbox));
        s.link.reader(reader);
        reader.start();
    }

    /** Starts tracking, then queues the full copy (a serve-only source sends AUTHORITY first). */
    private void begin() {
        // Tracking starts before the first read of the full copy, so every later write is seen by some round.
        for (Dev d : devs) {
            d.device.tracked().startTracking();
        }
        long[][] orders = new long[devs.length][];
        for (Dev d : devs) {
            orders[d.index] = d.device.volatility() != null
                    ? d.device.volatility().leastVolatileFirst()
                    : identity(d.spec.blockCount());
        }
        if (options.serveOnly()) {
            // AUTHORITY first (nothing to suspend, nothing changes), then every block, requested ones first; the GRANT
            // follows the last one once the destination asked for it, and COMPLETED ends it.
            control.add(new Frame.Authority(options.authorityPayload()));
            if (!transition(SourcePhase.AUTHORITY_SENT)) {
                return;
            }
            // One device after another, in the order given (the caller puts first what a destination needs first to
            // run); what the destination reads jumps the queue anyway, and a device out of credit lets the next go.
            for (Dev d : devs) {
                scheduler.rank(d.index, d.index);
            }
        } else if (!transition(SourcePhase.FULL_COPY)) {
            return;
        }
        for (Dev d : devs) {
            scheduler.fullCopy(d.index, orders[d.index]);
        }
    }

    // ------------------------------------------------------------------ the duty cycle

    /** One duty cycle; {@code false} once the migration ended. */
    private boolean cycle() throws Exception {
        if (source.ended()) {
            return false;
        }
        int work = drain();
        if (source.ended()) {
            return false;
        }
        work += step(System.nanoTime());
        work += write();
        if (work > 0) {
            idle.reset();
        } else {
            long deadline = proxy.lastSendNanos() + heartbeatNs;
            if (source.state().phase() == SourcePhase.DIRTY_ROUNDS) {
                deadline = Math.min(deadline, roundWakeNs);
            }
            idle.idle(deadline);
        }
        return true;
    }

    /** Handles what the inbox holds now. */
    private int drain() throws Exception {
        int handled = 0;
        inbox.drained();
        SourceEvent e;
        while (handled < INBOX_FRAMES && (e = inbox.poll()) != null) {
            handle(e);
            handled++;
            if (source.ended()) {
                break;
            }
        }
        return handled;
    }

    private void handle(SourceEvent e) throws Exception {
        switch (e) {
            case SourceEvent.Need n -> onNeed(n);
            case SourceEvent.Credit c -> onCredit(c);
            case SourceEvent.AuthorityAck a -> onAuthorityAck(a);
            case SourceEvent.Takeover _ -> onTakeover();
            case SourceEvent.Completed _ -> onCompleted();
            case SourceEvent.SuspendReturned r -> onSuspendReturned(r);
            case SourceEvent.Settled r -> {
                if (r.error() != null) {
                    source.fail(r.error());
                } else {
                    settled = true;
                }
            }
            case SourceEvent.WritersResumed r -> {
                if (r.error() != null) {
                    source.fail(r.error());
                }
            }
        }
    }

    private void onNeed(SourceEvent.Need n) {
        if (source.state().granted()) {
            // Sent before the destination read the GRANT, which followed every block: it has this one already.
            return;
        }
        Dev d = devs[n.device()];
        scheduler.need(d.index, n.block());
        listener.onPriorityRequest(d.spec.name(), n.block());
    }

    private void onCredit(SourceEvent.Credit c) throws ProtocolException {
        if ((long) scheduler.credit(c.device()) + c.frames() > 4L * FrameCodec.MAX_CREDIT) {
            throw new ProtocolException(ErrorCode.FLOW_CONTROL, "destination granted more credit than it can hold");
        }
        scheduler.addCredit(c.device(), c.frames());
    }

    private void onAuthorityAck(SourceEvent.AuthorityAck a) throws ProtocolException {
        SourcePhase phase = source.state().phase();
        // The destination acknowledges before it asks to take over, so this comes before any GRANT.
        if (phase != SourcePhase.AUTHORITY_SENT || !handOver.acknowledge()) {
            throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME, "unexpected AUTHORITY_ACK in phase " + phase);
        }
        source.stats.authorityAcknowledged(a.receivedNs());
        source.authorityFuture.complete(null);
    }

    private void onTakeover() throws ProtocolException {
        SourcePhase phase = source.state().phase();
        if (phase != SourcePhase.AUTHORITY_SENT || !handOver.request()) {
            throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME, "unexpected TAKEOVER in phase " + phase);
        }
    }

    private void onCompleted() throws ProtocolException, InterruptedException {
        SourcePhase phase = source.state().phase();
        if (phase != SourcePhase.GRANTED) {
            throw new ProtocolException(ErrorCode.UNEXPECTED_FRAME, "unexpected COMPLETED in phase " + phase);
        }
        // Nothing more comes from the destination (its reader stopped): no stall to watch for, even while the
        // writers resume.
        source.link.stopWatchdog();
        if (resumer != null) {
            // A copy: a caller that sees it completed finds the writers running again (as when the engine resumed
            // them before it waited for COMPLETED). The destination's COMPLETED can overtake the resume.
            resumer.join();
            if (resumeError != null) {
                source.fail(resumeError);
                return;
            }
        }
        long now = System.nanoTime();
        SourceState.Change c = source.swap(s -> s.completing(copyOnly, now));
        if (c == null) {
            return; // failed meanwhile
        }
        source.announce(c);
        source.link.connection().close();
        source.completedFuture.complete(source.counters());
    }

    private void onSuspendReturned(SourceEvent.SuspendReturned r) throws IOException {
        // After prepare() the writers count as suspended too: a failure from here on lets resume() undo it.
        source.writers.hookReturned();
        if (!r.prepared()) {
            source.stats.suspendReturned(r.returnedNs());
        }
        if (source.ended()) {
            return; // the failure is settled: the writers are resumed there
        }
        if (r.error() != null) {
            source.fail(r.error());
            return;
        }
        if (r.prepared()) {
            // The last live round: what changed up to prepare(), sent while the writers run on.
            enqueueEveryDevice(false);
            liveRoundPending = true;
            return;
        }
        if (!transition(SourcePhase.FINAL_SYNC)) {
            return;
        }
        // The final set goes now; what the hook left to finish (the devices made durable) holds the GRANT only.
        CompletableFuture<Void> settling = source.hook.settling();
        if (!settling.isDone() || settling.isCompletedExceptionally()) {
            settled = false;
            settling.whenComplete((v, error) -> inbox.signal(new SourceEvent.Settled(error)));
        }
        enqueueEveryDevice(true);
        control.add(new Frame.Authority(options.authorityPayload()));
        // The GRANT goes once TAKEOVER arrived and every block is out; COMPLETED ends it.
        transition(SourcePhase.AUTHORITY_SENT);
    }

    /** The phase logic that time or drained devices move on. */
    private int step(long nowNs) throws IOException {
        switch (source.state().phase()) {
            case FULL_COPY -> {
                if (!scheduler.allDrained()) {
                    return 0;
                }
                if (transition(SourcePhase.DIRTY_ROUNDS)) {
                    for (Dev d : devs) {
                        if (d.convergence.begin()) {
                            listener.onDeviceReady(d.spec.name(), d.convergence.cycles());
                        }
                    }
                }
                return 1;
            }
            case DIRTY_ROUNDS -> {
                return stepRounds(nowNs);
            }
            case SUSPENDING -> {
                if (!liveRoundPending || !scheduler.allDrained()) {
                    return 0;
                }
                liveRoundPending = false;
                suspend(false);
                return 1;
            }
            default -> {
                return 0;
            }
        }
    }

    /** Dirty rounds under Drafter's rules until every device is ready, then the suspend hook. */
    private int stepRounds(long nowNs) throws IOException {
        boolean allReady = true;
        for (Dev d : devs) {
            allReady &= d.convergence.ready();
        }
        if (allReady) {
            suspend(true);
            return 1;
        }
        int work = 0;
        long wakeNs = nowNs + ROUND_RECHECK_NS;
        for (Dev d : devs) {
            RoundPolicy c = d.convergence;
            if (c.ready()) {
                continue;
            }
            if (c.roundOutstanding()) {
                if (!scheduler.drained(d.index)) {
                    continue;
                }
                work++;
                if (c.roundSent()) {
                    listener.onDeviceReady(d.spec.name(), c.cycles());
                    continue;
                }
            }
            if (c.due(nowNs)) {
                long[] blocks = toArray(d.device.tracked().collect());
                int round = c.startRound(nowNs, blocks.length);
                source.stats.round(d.index, blocks.length);
                enqueueDirty(d, round, blocks, false);
                listener.onDirtyRound(d.spec.name(), round, blocks.length, false);
                work++; // a round of nothing is drained at once: the next cycle evaluates it
            } else {
                wakeNs = Math.min(wakeNs, c.nextDueNs());
            }
        }
        roundWakeNs = wakeNs;
        return work;
    }

    /**
     * SUSPENDING: the hook runs on a thread of its own; its return is a {@link SourceEvent.SuspendReturned}. First
     * ({@code prepare}) its {@link SuspendHook#prepare()}: if that asks for the last live round, the thread ends there
     * and {@link #step} calls this again once the round is out.
     */
    private void suspend(boolean prepare) {
        if (prepare && !transition(SourcePhase.SUSPENDING)) {
            return;
        }
        source.writers.hookEntered();
        Thread.ofPlatform()
                .name("migration-source-suspend-" + source.peer)
                .daemon()
                .start(() -> {
                    Throwable error = null;
                    try {
                        if (prepare && source.hook.prepare()) {
                            inbox.signal(new SourceEvent.SuspendReturned(System.nanoTime(), null, true));
                            return;
                        }
                        source.hook.suspend();
                    } catch (Throwable t) {
                        error = t;
                    }
                    inbox.signal(new SourceEvent.SuspendReturned(System.nanoTime(), error, false));
                });
    }

    /** Every device's dirty set as one more round, outside the policy's rounds ({@code last}: the final set). */
    private void enqueueEveryDevice(boolean last) {
        for (Dev d : devs) {
            long[] blocks = toArray(d.device.tracked().collect());
            int round = d.convergence.finalRound();
            source.stats.round(d.index, blocks.length);
            enqueueDirty(d, round, blocks, last);
            listener.onDirtyRound(d.spec.name(), round, blocks.length, last);
        }
    }

    private void enqueueDirty(Dev d, int round, long[] blocks, boolean last) {
        for (int from = 0; from < blocks.length; from += FrameCodec.MAX_DIRTY_PER_FRAME) {
            int to = Math.min(blocks.length, from + FrameCodec.MAX_DIRTY_PER_FRAME);
            control.add(new Frame.DirtyBlocks(
                    d.index, round, last && to == blocks.length, Arrays.copyOfRange(blocks, from, to)));
        }
        scheduler.dirty(d.index, blocks);
    }

    // ------------------------------------------------------------------ sending

    /** Sends a batch; with nothing to send, flushes or PINGs. Returns the frames written. */
    private int write() throws IOException {
        try {
            int sent = 0;
            // A batch ends early once something arrived: a NEED jumps the queue within one frame, as a CREDIT does.
            while (sent < SENDS_PER_CYCLE && !source.ended() && (sent == 0 || !inbox.pending())) {
                Frame f = control.poll();
                if (f != null) {
                    proxy.send(f);
                } else {
                    Outgoing.Block b = scheduler.pick();
                    if (b != null) {
                        try {
                            sendBlock(b);
                        } finally {
                            scheduler.sent(b.device());
                        }
                    } else if (!grant()) {
                        break;
                    }
                }
                sent++;
            }
            if (sent > 0) {
                unflushed = true;
                return sent;
            }
            if (source.ended()) {
                return 0;
            }
            if (unflushed) {
                proxy.flush();
                unflushed = false;
                return 1;
            }
            if (System.nanoTime() - proxy.lastSendNanos() >= heartbeatNs) {
                proxy.send(new Frame.Ping(System.nanoTime()));
                unflushed = true;
                return 1;
            }
            return 0;
        } catch (IOException | RuntimeException e) {
            awaitReader();
            throw e;
        }
    }

    /**
     * Writes the GRANT if it is due: the destination asked for it and nothing else is left. Every block the destination
     * lacked is written ahead of it on the same stream, so a destination that reads the GRANT has every block; from
     * here on it may run, and the engine never resumes on its own. A failure or an abort that won the state first
     * withholds it for good.
     */
    private boolean grant() throws IOException {
        if (source.state().phase() != SourcePhase.AUTHORITY_SENT
                || !handOver.grantDue(settled && control.isEmpty() && scheduler.idle())) {
            return false;
        }
        long now = System.nanoTime();
        SourceState.Change c = source.swap(s -> s.granting(copyOnly, now));
        if (c == null) {
            return false;
        }
        handOver.grant();
        source.stats.granted(now);
        source.announce(c);
        proxy.send(new Frame.Grant());
        if (copyOnly) {
            // A copy: every block of the cut is read and written ahead of the GRANT, so the writers go on.
            WriterResume.Turn turn = source.writers.claimForEngine();
            resumer = Thread.ofPlatform()
                    .name("migration-source-resume-" + source.peer)
                    .daemon()
                    .start(() -> {
                        Throwable error = null;
                        try {
                            source.writers.resume(turn);
                        } catch (Throwable t) {
                            error = t;
                        }
                        resumeError = error;
                        inbox.signal(new SourceEvent.WritersResumed(error));
                    });
        }
        return true;
    }

    private void sendBlock(Outgoing.Block w) throws IOException {
        Dev d = devs[w.device()];
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
        source.stats.blockRead(len, w.priority());
        Frame f = encoder.encode(w.device(), w.block(), len);
        if (f instanceof Frame.BlockData b) {
            source.stats.blockFrame(b);
        }
        proxy.send(f);
        if (f instanceof Frame.ZeroBlocks z) {
            source.stats.zeroFrameSent(z);
        }
    }

    /**
     * A peer that rejects something sends an ERROR and closes; waits up to 500 ms so that the reader reports that
     * reason rather than the broken pipe it causes here (dropping queued frames, so that a full inbox cannot hold the
     * reader back).
     */
    private void awaitReader() {
        Thread r = reader;
        if (r == null) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
        try {
            while (r.isAlive() && !source.ended() && System.nanoTime() < deadline) {
                inbox.clearFrames();
                r.join(Duration.ofMillis(10));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------ the end

    /**
     * After a failure: announces it (listener), waits until the failing thread told the destination and closed the
     * link, resumes the writers if the source suspended them and still owns the devices (once the suspend hook
     * returned, if it runs), tells the listener, and only then fails the futures.
     */
    private void settle() {
        if (source.state().phase() == SourcePhase.COMPLETED) {
            return;
        }
        MigrationSource.Failed failed;
        while ((failed = source.failed()) == null) {
            LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(1));
        }
        source.announce(failed.change());
        source.failureAnnounced.countDown();
        source.awaitFailureClosed();
        source.maybeResumeAfterFailure();
        MigrationException ex = failed.exception();
        try {
            listener.onFailed(ex);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "source listener failed in onFailed", e);
        }
        if (source.writers.inHook()) {
            // The hook still runs: the failure is reported once it returned and the writers run again.
            while (source.writers.inHook()) {
                SourceEvent e = inbox.poll();
                if (e instanceof SourceEvent.SuspendReturned r) {
                    try {
                        onSuspendReturned(r);
                    } catch (IOException ignored) {
                        // Ended: it only notes the return.
                    }
                } else if (e == null) {
                    LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(10));
                }
            }
            source.maybeResumeAfterFailure();
        }
        inbox.clearFrames();
        source.authorityFuture.completeExceptionally(ex);
        source.completedFuture.completeExceptionally(ex);
    }

    // ------------------------------------------------------------------ helpers

    private boolean transition(SourcePhase to) {
        SourceState.Change c = source.swap(s -> s.to(to, System.nanoTime()));
        if (c == null) {
            return false;
        }
        source.announce(c);
        return true;
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
