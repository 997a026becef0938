package io.drafter.migration.destination;

import io.drafter.migration.MigrationException;
import io.drafter.migration.internal.BackoffIdle;
import io.drafter.migration.internal.Link;
import io.drafter.migration.internal.PhaseMachine;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameProxy;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.transport.Connection;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * The destination's control agent: one platform thread that owns the engine's decisions and their state — the phase
 * machine, the {@link TakeoverGate}, the failure and its {@link FailureOutcome}, the futures its callers wait on — and
 * writes every frame the destination sends after the handshake. It runs one duty cycle, in the spirit of Aeron's agents:
 *
 * <ol>
 *   <li><b>drain the events</b> of its inbox: from the reader (HELLO answered, devices open, AUTHORITY, GRANT, its
 *       failure), the appliers (a storage failure), the devices' readers (NEED) and the callers (takeover,
 *       confirmation, abort, a timeout);
 *   <li><b>step the hand-over</b>: a barrier behind AUTHORITY or GRANT that every applier passed, the gate once blocks
 *       arrived;
 *   <li><b>write</b> the credit the appliers returned (one CREDIT per device and cycle, whatever they returned
 *       meanwhile); flush once a cycle found nothing to do; PING once nothing went out for a heartbeat;
 *   <li><b>idle</b> ({@link BackoffIdle}) until a producer wakes it or the heartbeat is due.
 * </ol>
 *
 * <p>Back-pressure: the inbox is bounded ({@link #INBOX} events) and a producer waits for room. Few events are ever in
 * flight: the reader's are one per handshake step, AUTHORITY and GRANT (a second one fails the session); credit and
 * "blocks arrived" are counters and a flag, not events; a NEED is one per reader waiting for a block; a caller posts
 * one request and waits for its answer.
 *
 * <p>Other threads see only what it publishes ({@link #view()}: phase, failure, time per phase) and its futures. A
 * failure reported by another thread ({@link #report}) is an event too; if the agent is stuck writing to a source
 * that does not read, the reporter closes the connection under it.
 *
 * <p><b>Note:</b> thread-safe as described: {@link #run} on its own platform thread, the rest from any thread.
 */
final class DestinationAgent implements Runnable {
    private static final System.Logger LOG = System.getLogger(MigrationDestination.class.getName());

    /** Room in the inbox. */
    static final int INBOX = 1024;

    /** A write that has not returned for this long is stuck: the source does not read. */
    private static final long STUCK_WRITE_NS = 1_000_000_000L;

    /** What the agent reacts to. */
    sealed interface Event {}

    /** The reader answered HELLO: from now on the agent sends PINGs when quiet. */
    record HelloDone() implements Event {}

    /** The reader opened every device and started their appliers; {@code runEarly}: see {@link TakeoverGate}. */
    record DevicesOpened(boolean runEarly) implements Event {}

    /** AUTHORITY arrived; {@code applied} is counted down by each applier behind what came before it. */
    record AuthorityArrived(byte[] payload, CountDownLatch applied) implements Event {}

    /** GRANT arrived; {@code applied} is counted down by each applier behind the last block. */
    record GrantArrived(CountDownLatch applied) implements Event {}

    /** A reader waits for {@code block} of device {@code device}: ask the source for it. */
    record Need(int device, long block) implements Event {}

    /** Another thread failed the session (the first failure counts). */
    record Failed(Throwable cause) implements Event {}

    /** The caller stops the migration. */
    record Abort() implements Event {}

    /** A caller's request, answered through its {@code reply}. */
    sealed interface Request extends Event {}

    /** The caller asks for the hand-over; the reply says whether it must wait for the GRANT. */
    record TakeOver(CompletableFuture<Boolean> reply) implements Request {}

    /** The caller runs on the devices. */
    record Confirm(CompletableFuture<Void> reply) implements Request {}

    /** What the agent publishes: the phase, the failure once FAILED, the time spent in each phase left. */
    record View(DestinationPhase phase, MigrationException failure, Map<DestinationPhase, Duration> phaseTimes) {}

    private final String peer;
    private final Link link;
    private final FrameProxy proxy;
    private final Connection connection;
    private final DestinationStorage storage;
    private final DestinationOptions options;
    private final DestinationListener listener;
    /** The devices as the reader opens them (a failure in the handshake discards those opened so far). */
    private final List<DeviceSink> sinks;

    private final Supplier<DestinationCounters> counters;
    private final long heartbeatNs;

    final CompletableFuture<Map<String, WaitingDevice>> devicesFuture = new CompletableFuture<>();
    final CompletableFuture<MigrationDestination.Resumable> resumableFuture = new CompletableFuture<>();
    final CompletableFuture<Void> grantFuture = new CompletableFuture<>();
    final CompletableFuture<DestinationCounters> completedFuture = new CompletableFuture<>();

    // Shared with the producers.
    private final ArrayBlockingQueue<Event> inbox = new ArrayBlockingQueue<>(INBOX);
    private final AtomicBoolean blocksArrived = new AtomicBoolean();
    private final CountDownLatch settled = new CountDownLatch(1);
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile View view = new View(
            DestinationPhase.HANDSHAKE, null, Collections.unmodifiableMap(new EnumMap<>(DestinationPhase.class)));
    /** The agent ran its last cycle: it answers no more events. */
    private volatile boolean closed;
    /** When the write in progress began ({@link System#nanoTime()}), 0 if none. */
    private volatile long writingSinceNs;

    private volatile Thread thread;
    private volatile Thread reader;

    // The agent's own; read by others only after it closed.
    private final PhaseMachine<DestinationPhase> phases = new PhaseMachine<>(
            "destination", MigrationDestination.PHASES, DestinationPhase.HANDSHAKE, System::nanoTime);
    private final TakeoverGate gate;
    private final BackoffIdle idle = new BackoffIdle(0, 0);
    private DeviceSink[] devices = new DeviceSink[0];
    private boolean helloDone;
    /** The source announced a copy it never runs, and this side may run before the grant. */
    private boolean runEarly;
    /** In FETCHING: the caller confirmed that it runs, so COMPLETED follows the grant. */
    private boolean confirmedEarly;

    private byte[] authorityPayload;
    private CountDownLatch authorityApplied;
    private CountDownLatch grantApplied;
    private MigrationException failure;
    private boolean unflushed;

    DestinationAgent(
            String peer,
            Link link,
            DestinationStorage storage,
            DestinationOptions options,
            DestinationListener listener,
            List<DeviceSink> sinks,
            Supplier<DestinationCounters> counters) {
        this.peer = peer;
        this.link = link;
        this.proxy = link.out();
        this.connection = link.connection();
        this.storage = storage;
        this.options = options;
        this.listener = listener;
        this.sinks = sinks;
        this.counters = counters;
        this.heartbeatNs = link.heartbeatNs();
        this.gate = new TakeoverGate(options.explicitTakeover(), options.waitForAllBlocks());
    }

    /** Starts the agent's thread. */
    void start() {
        Thread t = Thread.ofPlatform()
                .name("migration-destination-agent-" + peer)
                .daemon()
                .unstarted(this);
        thread = t;
        t.start();
    }

    /** The reader thread, whose own report of a failure beats the broken pipe a write of the agent sees. */
    void reader(Thread t) {
        reader = t;
    }

    /** What the agent published last. */
    View view() {
        return view;
    }

    // ------------------------------------------------------------------ producers (any thread)

    /**
     * Hands {@code e} to the agent, waiting while the inbox is full. Once the agent closed, an event goes nowhere and a
     * request is answered here, from the final state.
     */
    void post(Event e) {
        if (Thread.currentThread() == thread) {
            // A listener called back on the agent's thread: take it now, nobody else would.
            takeNow(e);
            return;
        }
        boolean interrupted = false;
        try {
            while (!closed) {
                try {
                    if (!inbox.offer(e, 20, TimeUnit.MILLISECONDS)) {
                        continue;
                    }
                } catch (InterruptedException ie) {
                    interrupted = true;
                    continue;
                }
                LockSupport.unpark(thread);
                // The agent may have closed between our check and the offer: then it may never see the event.
                if (closed && e instanceof Request r && inbox.remove(r)) {
                    answerClosed(r);
                }
                return;
            }
            if (e instanceof Request r) {
                answerClosed(r);
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Wakes the agent: an applier returned credit (see {@link DeviceSink#returnCredit}) or passed a barrier. */
    void wake() {
        LockSupport.unpark(thread);
    }

    /** An applier ran out of work after AUTHORITY: the gate may open. */
    void blocksArrived() {
        blocksArrived.set(true);
        LockSupport.unpark(thread);
    }

    /** Fails the session with {@code cause} (a no-op once it ended), and waits until the agent took it. */
    void report(Throwable cause) {
        post(new Failed(cause));
        awaitUnstuck(settled);
    }

    /** Stops the session (ABORTED) and waits until the failure is handled: discarded, futures completed. */
    void abort() {
        post(new Abort());
        awaitUnstuck(stopped);
    }

    /** Fails the session with {@code cause} and waits until the failure is handled. */
    void failAndWait(Throwable cause) {
        post(new Failed(cause));
        awaitUnstuck(stopped);
    }

    /** Whether the session ended: the agent took a failure or COMPLETED. */
    boolean ended() {
        return settled.getCount() == 0;
    }

    /**
     * Waits for {@code latch}; a write of the agent that does not return (a source that no longer reads) is ended by
     * closing the connection, so that the agent gets to the events waiting for it.
     */
    private void awaitUnstuck(CountDownLatch latch) {
        if (Thread.currentThread() == thread) {
            return;
        }
        try {
            while (!latch.await(100, TimeUnit.MILLISECONDS)) {
                long since = writingSinceNs;
                if (since != 0 && System.nanoTime() - since > STUCK_WRITE_NS) {
                    LOG.log(Level.DEBUG, () -> "migration from " + peer + ": a write does not return; closing");
                    connection.close();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------ the duty cycle (agent thread)

    @Override
    public void run() {
        try {
            while (!phases.ended()) {
                try {
                    if (dutyCycle() > 0) {
                        idle.reset();
                    } else {
                        idle.idle(helloDone ? proxy.lastSendNanos() + heartbeatNs : System.nanoTime() + heartbeatNs);
                    }
                } catch (WriteFailure w) {
                    failNow(reportedBefore(w.getCause()));
                } catch (IOException | RuntimeException e) {
                    failNow(e);
                }
            }
        } finally {
            if (!phases.ended()) {
                // Only an Error gets here: nobody would complete the futures or release the threads that wait.
                IOException gone =
                        new IOException("could not migrate from " + peer + ": the destination's agent stopped");
                devicesFuture.completeExceptionally(gone);
                grantFuture.completeExceptionally(gone);
                resumableFuture.completeExceptionally(gone);
                completedFuture.completeExceptionally(gone);
                settled.countDown();
                connection.close();
            }
            closed = true;
            for (Event e; (e = inbox.poll()) != null; ) {
                if (e instanceof Request r) {
                    answerClosed(r);
                }
            }
            stopped.countDown();
        }
    }

    /** Takes {@code e} on the agent's thread outside the cycle. */
    private void takeNow(Event e) {
        try {
            onEvent(e);
        } catch (WriteFailure w) {
            failNow(reportedBefore(w.getCause()));
        } catch (IOException | RuntimeException x) {
            failNow(x);
        }
    }

    /** One duty cycle; returns how much it did (0: idle now). */
    private int dutyCycle() throws IOException, WriteFailure {
        int work = 0;
        for (Event e; (e = inbox.poll()) != null; ) {
            onEvent(e);
            work++;
            if (phases.ended()) {
                return work;
            }
        }
        work += stepHandOver();
        if (phases.ended()) {
            return work;
        }
        for (DeviceSink s : devices) {
            int frames = s.takeCredit();
            if (frames > 0) {
                send(new Frame.Credit(s.index, frames));
                work++;
            }
        }
        if (work > 0) {
            return work;
        }
        if (unflushed) {
            flush();
            return 1;
        }
        if (helloDone && System.nanoTime() - proxy.lastSendNanos() >= heartbeatNs) {
            sendNow(new Frame.Ping(System.nanoTime()));
            return 1;
        }
        return 0;
    }

    private void onEvent(Event e) throws IOException, WriteFailure {
        switch (e) {
            case HelloDone _ -> helloDone = true;
            case DevicesOpened o -> {
                synchronized (sinks) {
                    devices = sinks.toArray(DeviceSink[]::new);
                }
                runEarly = o.runEarly();
                if (transition(DestinationPhase.RECEIVING)) {
                    Map<String, WaitingDevice> map = new LinkedHashMap<>();
                    for (DeviceSink s : devices) {
                        map.put(s.spec.name(), s.waiting);
                    }
                    devicesFuture.complete(Collections.unmodifiableMap(map));
                }
            }
            case AuthorityArrived a -> {
                if (phases.phase() != DestinationPhase.RECEIVING || !gate.authority()) {
                    throw new ProtocolException(
                            ErrorCode.UNEXPECTED_FRAME, "unexpected AUTHORITY in phase " + phases.phase());
                }
                authorityPayload = a.payload();
                // Every DIRTY list sent before AUTHORITY must be applied before anyone prepares on these devices.
                authorityApplied = a.applied();
            }
            case GrantArrived g -> {
                DestinationPhase at = phases.phase();
                if ((at != DestinationPhase.AUTHORITATIVE && at != DestinationPhase.FETCHING) || !gate.grant()) {
                    throw new ProtocolException(
                            ErrorCode.UNEXPECTED_FRAME,
                            "unexpected GRANT in phase " + at + (gate.asked() ? "" : " (no TAKEOVER was sent)"));
                }
                // The blocks ahead of the GRANT may still sit in the appliers' queues: the grant counts once they are
                // stored.
                grantApplied = g.applied();
            }
            case Need n -> send(new Frame.Need(n.device(), n.block()));
            case Failed f -> failNow(f.cause());
            case Abort _ ->
                failNow(new ProtocolException(
                        ErrorCode.ABORTED,
                        phases.phase() == DestinationPhase.GRANTED
                                ? "migration aborted at the destination after the grant"
                                : "migration aborted at the destination"));
            case Request r -> {
                try {
                    answer(r);
                } catch (WriteFailure w) {
                    failNow(reportedBefore(w.getCause()));
                    answer(r);
                }
            }
        }
    }

    /** The barriers behind AUTHORITY and GRANT, and the gate once blocks arrived. */
    private int stepHandOver() throws ProtocolException, WriteFailure {
        int work = 0;
        if (authorityApplied != null && authorityApplied.getCount() == 0) {
            authorityApplied = null;
            work++;
            // Appliers ask for the grant once they see AUTHORITATIVE: the acknowledgement must be ahead of it.
            if (transition(DestinationPhase.AUTHORITATIVE)) {
                send(new Frame.AuthorityAck());
                stepGate();
            }
        }
        if (grantApplied != null && grantApplied.getCount() == 0) {
            grantApplied = null;
            work++;
            granted();
        }
        if (blocksArrived.getAndSet(false) && phases.phase() == DestinationPhase.AUTHORITATIVE) {
            stepGate();
        }
        return work;
    }

    /**
     * After AUTHORITY, whenever blocks arrived: once the caller may go on (at once, or with {@link
     * DestinationOptions#waitForAllBlocks()} when every block is here), lets an explicit caller prepare, or asks for
     * the grant on its behalf.
     */
    private void stepGate() throws WriteFailure {
        switch (gate.next(this::allBlocksHere)) {
            case WAIT -> {}
            case PREPARE -> {
                if (!resumableFuture.isDone()) {
                    resumableFuture.complete(resumable());
                }
            }
            case ASK -> send(new Frame.Takeover());
        }
    }

    private boolean allBlocksHere() {
        for (DeviceSink s : devices) {
            if (!s.waiting.isComplete()) {
                return false;
            }
        }
        return true;
    }

    /** Every block ahead of the GRANT is stored. */
    private void granted() throws ProtocolException {
        for (DeviceSink s : devices) {
            long missing = s.spec.blockCount() - s.waiting.presentBlockCount();
            if (missing > 0) {
                throw new ProtocolException(
                        ErrorCode.UNEXPECTED_FRAME,
                        "GRANT arrived while device \"" + s.spec.name() + "\" still misses " + missing + " blocks");
            }
        }
        if (!transition(DestinationPhase.GRANTED)) {
            return;
        }
        grantFuture.complete(null);
        if (confirmedEarly) {
            complete(); // it runs already
        } else if (!options.explicitTakeover()) {
            // The caller runs as soon as awaitResumable returns: tell the source now.
            complete();
            resumableFuture.complete(resumable());
        }
    }

    private MigrationDestination.Resumable resumable() {
        Map<String, WaitingDevice> map = new LinkedHashMap<>();
        for (DeviceSink s : devices) {
            map.put(s.spec.name(), s.waiting);
        }
        return new MigrationDestination.Resumable(authorityPayload.clone(), Collections.unmodifiableMap(map));
    }

    /** Reports COMPLETED to the source: this side runs on the devices. */
    private void complete() {
        // COMPLETED before the frame leaves: the source closes the connection as soon as it reads it.
        if (phases.phase() != DestinationPhase.GRANTED || !transition(DestinationPhase.COMPLETED)) {
            return;
        }
        try {
            sendNow(new Frame.Completed());
        } catch (WriteFailure w) {
            // This side runs on the devices whatever the source heard; without COMPLETED it sees the connection end.
            LOG.log(
                    Level.DEBUG,
                    () -> "could not send COMPLETED to " + peer + ": "
                            + w.getCause().getMessage());
        }
        link.stopWatchdog();
        for (DeviceSink s : devices) {
            // Nothing more arrives after the GRANT: the appliers' queues are empty and their threads may go.
            if (s.applier != null) {
                s.applier.interrupt();
            }
        }
        completedFuture.complete(counters.get());
    }

    /** Answers a caller's request; on the agent's thread, or on the caller's once the agent closed. */
    private void answer(Request r) throws WriteFailure {
        DestinationPhase at = phases.phase();
        switch (r) {
            case TakeOver t -> {
                switch (at) {
                    case FETCHING, GRANTED, COMPLETED -> t.reply().complete(false);
                    case FAILED -> t.reply().completeExceptionally(failure);
                    case AUTHORITATIVE -> {
                        if (gate.ask()) {
                            send(new Frame.Takeover());
                        }
                        if (runEarly) {
                            transition(DestinationPhase.FETCHING);
                            t.reply().complete(false);
                        } else {
                            t.reply().complete(true);
                        }
                    }
                    default ->
                        t.reply()
                                .completeExceptionally(new IllegalStateException("could not take over from " + peer
                                        + ": authority has not arrived (phase " + at + ")"));
                }
            }
            case Confirm c -> {
                switch (at) {
                    case COMPLETED -> c.reply().complete(null);
                    case FETCHING -> {
                        confirmedEarly = true;
                        c.reply().complete(null);
                    }
                    case GRANTED -> {
                        complete();
                        c.reply().complete(null);
                    }
                    default ->
                        c.reply()
                                .completeExceptionally(new IllegalStateException("could not confirm the takeover from "
                                        + peer + ": the source has not granted it (phase " + at + ")"));
                }
            }
        }
    }

    /** Answers {@code r} once the agent closed: the state is final, nothing is written. */
    private void answerClosed(Request r) {
        try {
            answer(r);
        } catch (WriteFailure w) {
            throw new IllegalStateException("wrote after the session ended", w);
        }
    }

    // ------------------------------------------------------------------ writing

    /** A write to the source failed; its cause is the {@link IOException}. */
    private static final class WriteFailure extends Exception {
        WriteFailure(IOException cause) {
            super(cause);
        }

        @Override
        public synchronized IOException getCause() {
            return (IOException) super.getCause();
        }
    }

    private void send(Frame f) throws WriteFailure {
        writingSinceNs = System.nanoTime();
        try {
            proxy.send(f);
            unflushed = true;
        } catch (IOException e) {
            throw new WriteFailure(e);
        } finally {
            writingSinceNs = 0;
        }
    }

    private void sendNow(Frame f) throws WriteFailure {
        send(f);
        flush();
    }

    private void flush() throws WriteFailure {
        writingSinceNs = System.nanoTime();
        try {
            proxy.flush();
            unflushed = false;
        } catch (IOException e) {
            throw new WriteFailure(e);
        } finally {
            writingSinceNs = 0;
        }
    }

    /**
     * The reason of a failed write: a source that rejects something sends an ERROR and closes, so the reader's report
     * of it (or any failure reported before) beats the broken pipe the write saw. Waits for it at most 500 ms.
     */
    private Throwable reportedBefore(IOException writeError) {
        long deadlineNs = System.nanoTime() + 500_000_000L;
        while (true) {
            for (Event e : inbox) {
                if (e instanceof Failed f) {
                    return f.cause();
                }
            }
            Thread r = reader;
            if (r == null || !r.isAlive() || System.nanoTime() - deadlineNs > 0) {
                return writeError;
            }
            LockSupport.parkNanos(10_000_000L);
        }
    }

    // ------------------------------------------------------------------ state machine and failure (agent thread)

    /**
     * Moves to {@code to} and publishes it; returns {@code false} if the session already ended.
     *
     * @throws IllegalStateException for a transition the state machine does not have
     */
    private boolean transition(DestinationPhase to) {
        PhaseMachine.Transition<DestinationPhase> t = phases.transition(to);
        if (t == null) {
            return false;
        }
        view = new View(to, failure, Collections.unmodifiableMap(phases.phaseTimes()));
        if (to.terminal()) {
            settled.countDown();
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

    /** Ends the session with {@code cause}: tells the source, fails waiting reads, stops the appliers, discards. */
    private void failNow(Throwable cause) {
        DestinationPhase at = phases.phase();
        if (at.terminal()) {
            return;
        }
        List<DeviceSink> all;
        synchronized (sinks) {
            all = List.copyOf(sinks);
        }
        FailureOutcome outcome = FailureOutcome.of(at, gate.asked(), !all.isEmpty(), cause);
        String detail = cause.getMessage() == null ? cause.toString() : cause.getMessage();
        MigrationException ex = new MigrationException(
                "could not migrate from " + peer + " (phase " + at + "): " + detail + outcome.consequence(),
                at.name(),
                outcome.authority(),
                cause);
        failure = ex;
        if (!transition(DestinationPhase.FAILED)) {
            return;
        }
        LOG.log(Level.WARNING, ex.getMessage());
        link.failAndClose(cause, ex.getMessage());
        IOException readError = new IOException(ex.getMessage(), ex);
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
}
