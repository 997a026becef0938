package io.drafter.migration.source;

import io.drafter.migration.Authority;
import io.drafter.migration.MigrationException;
import io.drafter.migration.internal.Handshake;
import io.drafter.migration.internal.Link;
import io.drafter.migration.internal.PhaseMachine;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.FrameCipher;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.transport.Connection;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

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
 * <p>The engine is one duty-cycle agent ({@link SourceAgent}) that owns the engine's state and composes small parts:
 * {@link SendScheduler} (which block next), {@link RoundPolicy} (rounds and convergence), {@link
 * io.drafter.migration.internal.BlockEncoder} (ZERO, raw or zstd), {@link HandOver} (acknowledgement, takeover, grant),
 * {@link WriterResume} (who resumes the writers) and {@link SourceStats} (counters). A reader ({@link SourceReader})
 * feeds it through a bounded {@link SourceInbox}. What other threads share with it is one immutable {@link
 * SourceState} (phase, authority, grant) swapped by compare-and-set. See {@code docs/architecture.md}.
 *
 * <p><b>Note:</b> thread-safe, without a lock. The engine runs an agent, a reader and a watchdog, all named after the
 * peer, and a short-lived thread for the suspend hook (and for resuming the writers after the GRANT of a copy).
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

    /** The failure that won: its exception and the transition to FAILED. */
    record Failed(MigrationException exception, SourceState.Change change) {}

    /** The listener's authenticated session this migration continues, or {@code null} (it authenticates itself). */
    final AuthenticatedDestination session;

    final String peer;
    final SourceOptions options;
    final SuspendHook hook;
    final SourceListener listener;
    final Link link;
    /** Whether the hook suspended the writers, and who resumes them. */
    final WriterResume writers;
    /** The counters. */
    final SourceStats stats;

    final SourceInbox inbox = new SourceInbox(SourceAgent.INBOX_FRAMES);
    private final SourceAgent agent;
    private Thread agentThread;

    /** Phase, authority and grant: written by compare-and-set only ({@link #swap}). */
    private final AtomicReference<SourceState> state = new AtomicReference<>(SourceState.start(System.nanoTime()));
    /** The destination keeps a copy and never runs it (a live backup); set once after the handshake. */
    private volatile boolean copyOnly;

    private volatile Failed failed;
    /** Counted down once the failing thread told the destination and closed the link. */
    private final CountDownLatch failureClosed = new CountDownLatch(1);
    /** Counted down once the agent told the listener about the failure. */
    final CountDownLatch failureAnnounced = new CountDownLatch(1);

    final CompletableFuture<Void> authorityFuture = new CompletableFuture<>();
    final CompletableFuture<SourceCounters> completedFuture = new CompletableFuture<>();

    private MigrationSource(
            Connection connection,
            AuthenticatedDestination session,
            List<SourceDevice> devices,
            SourceOptions options,
            SuspendHook hook,
            SourceListener listener)
            throws IOException {
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
        List<DeviceSpec> specs = new ArrayList<>();
        for (SourceDevice d : devices) {
            DeviceSpec spec = new DeviceSpec(
                    d.name(), d.tracked().sizeBytes(), d.tracked().blockSizeBytes());
            String problem = FrameCodec.validate(spec);
            if (problem != null) {
                throw new IllegalArgumentException("could not migrate to " + peer + ": " + problem);
            }
            specs.add(spec);
        }
        this.stats = new SourceStats(specs.stream().map(DeviceSpec::name).toList());
        this.link = session != null
                ? new Link(connection, session.in(), session.out(), "destination", options.stallTimeout(), this::fail)
                : new Link(connection, "destination", options.stallTimeout(), 64 << 10, this::fail);
        this.agent = new SourceAgent(this, devices, List.copyOf(specs), inbox);
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
        Thread t = Thread.ofPlatform()
                .name("migration-source-agent-" + s.peer)
                .daemon()
                .unstarted(s.agent);
        s.agentThread = t;
        s.inbox.consumer(t);
        s.link.start();
        t.start();
        return s;
    }

    // ------------------------------------------------------------------ public handle

    /** The current phase. */
    public SourcePhase phase() {
        return state.get().phase();
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
        return state.get().authority();
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
        return state.get().granted();
    }

    /** Waits until the destination confirmed that it runs (COMPLETED), and returns the final counters. */
    public SourceCounters awaitCompleted(Duration timeout) throws IOException, InterruptedException {
        return Link.await(completedFuture, timeout);
    }

    /** Stops the migration (the destination is told with an ERROR frame). Authority stays where it is. */
    public void abort() {
        fail(aborted(), false);
    }

    /**
     * Stops the migration if the GRANT has not been written yet (the source still owns the devices, and resumes its
     * writers if it had suspended them); a migration that granted already goes on to its end. Decided by one
     * compare-and-set on the engine's state, the same the GRANT takes, so the grant and the abort never both happen.
     *
     * @return whether this stopped the migration
     */
    public boolean abortBeforeGrant() {
        return fail(aborted(), true);
    }

    private static ProtocolException aborted() {
        return new ProtocolException(ErrorCode.ABORTED, "migration aborted at the source");
    }

    /**
     * Takes authority back after a failed migration and restarts the writers ({@link SuspendHook#resume()}). Only call
     * this with {@link Authority#UNCERTAIN} or {@link Authority#DESTINATION} when the destination is known to be
     * stopped: otherwise two copies would run.
     *
     * @throws IllegalStateException if the migration has not failed (abort it first) or completed
     */
    public void resumeSource() throws Exception {
        SourcePhase phase = state.get().phase();
        if (phase == SourcePhase.RESUMED) {
            return;
        }
        if (phase != SourcePhase.FAILED) {
            throw new IllegalStateException("could not resume at the source: migration is in phase " + phase
                    + (phase == SourcePhase.COMPLETED ? " (the destination owns the devices)" : "; abort it first"));
        }
        if (Thread.currentThread() != agentThread) {
            // The listener hears of FAILED before RESUMED; the agent tells it at once (bounded: never hang here).
            failureAnnounced.await(5, TimeUnit.SECONDS);
        }
        writers.resume(writers.claimForCaller()); // WAIT: the engine resumes them; return once they run
        SourceState.Change c = swap(s -> s.resuming(System.nanoTime()));
        if (c != null) {
            announce(c);
        }
    }

    /** A snapshot of the counters. */
    public SourceCounters counters() {
        return stats.snapshot(link.out().bytesSent(), state.get().phaseTimes());
    }

    // ------------------------------------------------------------------ shared with the agent and the reader

    String peer() {
        return peer;
    }

    SourceState state() {
        return state.get();
    }

    /** Whether the migration ended (completed, failed or resumed). */
    boolean ended() {
        return state.get().ended();
    }

    void copyOnly(boolean value) {
        copyOnly = value;
    }

    Failed failed() {
        return failed;
    }

    /**
     * Moves the state on by compare-and-set: {@code next} gives the state after the current one, or {@code null} to
     * leave it.
     *
     * @return the transition, or {@code null} if {@code next} refused
     */
    SourceState.Change swap(UnaryOperator<SourceState> next) {
        return SourceState.swap(state, next);
    }

    /** Logs a transition and tells the listener (on the agent thread, or the caller's for RESUMED). */
    void announce(SourceState.Change c) {
        SourcePhase from = c.from().phase();
        SourcePhase to = c.to().phase();
        Duration spent = c.timeInFrom();
        LOG.log(Level.DEBUG, () -> "migration to " + peer + ": " + from + " -> " + to + " after " + spent);
        try {
            listener.onPhase(from, to, spent);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "source listener failed in onPhase", e);
        }
    }

    // ------------------------------------------------------------------ failure

    /** Fails the migration from any thread; does nothing once it ended. */
    void fail(Throwable cause) {
        fail(cause, false);
    }

    /**
     * Fails the migration, from any thread: the state moves to FAILED by compare-and-set (unless it ended, or {@code
     * onlyBeforeGrant} and the GRANT was written), the destination is told and the link closed here; the agent then
     * settles it (listener, writers, futures).
     *
     * @return whether this call failed it
     */
    boolean fail(Throwable cause, boolean onlyBeforeGrant) {
        SourceState.Change c = swap(s -> s.failing(onlyBeforeGrant, System.nanoTime()));
        if (c == null) {
            return false;
        }
        SourcePhase at = c.from().phase();
        Authority authority = c.from().authority();
        String detail = cause.getMessage() == null ? cause.toString() : cause.getMessage();
        String hint = "";
        if (authority == Authority.UNCERTAIN) {
            hint = cause instanceof ProtocolException pe && pe.fromPeer() && pe.code() == ErrorCode.ABORTED
                    ? "; the destination says it did not run the VM: resumeSource() takes it back"
                    : "; the hand-over was granted and the destination may run the VM: this side does not resume"
                            + " it unless told the destination is stopped";
        }
        MigrationException ex = new MigrationException(
                "could not migrate to " + peer + " (phase " + at + ", authority " + authority + "): " + detail + hint,
                at.name(),
                authority,
                cause);
        failed = new Failed(ex, c);
        inbox.wake();
        LOG.log(Level.WARNING, ex.getMessage());
        try {
            link.failAndClose(cause, ex.getMessage());
        } finally {
            failureClosed.countDown();
            inbox.wake();
        }
        return true;
    }

    /** Waits until the failing thread told the destination and closed the link (bounded by {@link Link}). */
    void awaitFailureClosed() {
        boolean interrupted = false;
        while (true) {
            try {
                failureClosed.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Restarts the writers if the source suspended them and still owns the devices after a failure. */
    void maybeResumeAfterFailure() {
        SourceState s = state.get();
        if (s.phase() != SourcePhase.FAILED || s.authority() != Authority.SOURCE) {
            return;
        }
        try {
            // WAIT: another thread resumes the writers; the failure is reported only once they run again, so a caller
            // that sees it finds the source settled.
            writers.resume(writers.claimForEngine());
        } catch (Exception e) {
            LOG.log(Level.ERROR, "could not resume the source after a failed migration to " + peer, e);
        }
    }
}
