package io.drafter.migration.source;

import io.drafter.migration.internal.Handshake;
import io.drafter.migration.internal.Watchdog;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameAdapter;
import io.drafter.migration.protocol.FrameCipher;
import io.drafter.migration.protocol.FrameProxy;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.transport.Connection;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.Transport;
import io.drafter.migration.transport.TransportSecurity;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The source's listening socket: serves until a legitimate destination takes the VM. It authenticates every connection
 * on a thread of its own (TLS handshake, HELLO, HELLO_REPLY, the destination's token proof, then the source's) and
 * hands out only destinations that passed, through {@link #accept}.
 *
 * <p>A connection refused before authentication (garbage, bad magic, another protocol version, a wrong or missing
 * token, a truncated or oversized frame, a failed TLS handshake, no complete handshake within {@link
 * Limits#handshakeTimeout()} of its accept, more than {@link Limits#maxPending()} unauthenticated connections at once)
 * is closed with exactly one WARNING line {@code refused migration connection from HOST:PORT: <reason>} and counted in
 * {@link #refusedCount()}; nothing else changes (the VM is never paused). At most {@link Limits#maxSessions()}
 * authenticated sessions at a time (a peer: one; a registry: many): beyond that another authenticated destination gets
 * an ERROR BUSY, is closed, logged and counted the same way.
 * The socket stays bound until {@link #close()}, so the port cannot be taken between two attempts.
 *
 * <p><b>Note:</b> thread-safe. Runs one named platform thread that only accepts, one virtual thread per connection
 * while it authenticates, and one named platform thread that closes connections at their deadline.
 */
public final class MigrationListener implements Closeable {
    private static final System.Logger LOG = System.getLogger(MigrationListener.class.getName());
    private static final int READ_BUFFER_BYTES = 64 << 10;

    private static final int PENDING = 0;
    private static final int AUTHENTICATED = 1;
    private static final int EXPIRED = 2;

    /**
     * How much an unauthenticated peer may hold.
     *
     * @param handshakeTimeout from accept to the verified token proof (TLS handshake included); at this deadline the
     *     connection is closed, however slowly it still trickles bytes
     * @param maxPending unauthenticated connections at once; more are closed as soon as they are accepted
     * @param maxSessions authenticated sessions at once; more get BUSY
     */
    public record Limits(Duration handshakeTimeout, int maxPending, int maxSessions) {
        public Limits {
            if (handshakeTimeout == null || handshakeTimeout.toMillis() < 1) {
                throw new IllegalArgumentException("handshakeTimeout must be at least 1 ms, got " + handshakeTimeout);
            }
            if (maxPending < 1) {
                throw new IllegalArgumentException("maxPending must be at least 1, got " + maxPending);
            }
            if (maxSessions < 1) {
                throw new IllegalArgumentException("maxSessions must be at least 1, got " + maxSessions);
            }
        }

        /** One session at a time, as a peer serves. */
        public Limits(Duration handshakeTimeout, int maxPending) {
            this(handshakeTimeout, maxPending, 1);
        }

        /** 10 s, 8 unauthenticated connections, 1 session. */
        public static Limits defaults() {
            return new Limits(Duration.ofSeconds(10), 8, 1);
        }

        public Limits withMaxSessions(int sessions) {
            return new Limits(handshakeTimeout, maxPending, sessions);
        }
    }

    /** One accepted connection until it is authenticated or refused. */
    private static final class Pending {
        final Socket socket;
        final String peer;
        final AtomicInteger state = new AtomicInteger(PENDING);
        volatile ScheduledFuture<?> deadline;

        Pending(Socket socket, String peer) {
            this.socket = socket;
            this.peer = peer;
        }

        /** The deadline: closes the socket unless the connection authenticated first. */
        void expire() {
            if (state.compareAndSet(PENDING, EXPIRED)) {
                closeQuietly(socket);
            }
        }
    }

    private final ServerSocket server;
    private final InetSocketAddress address;
    private final SharedToken token;
    private final Limits limits;
    private final Thread acceptor;
    private final ScheduledExecutorService deadlines;
    private final Set<Pending> pending = ConcurrentHashMap.newKeySet();
    private final AtomicInteger pendingCount = new AtomicInteger();
    private final AtomicLong refused = new AtomicLong();
    /** Authenticated sessions for {@link #accept}; an empty value means the listener closed. */
    private final LinkedBlockingQueue<Optional<AuthenticatedDestination>> ready = new LinkedBlockingQueue<>();

    private final Object lock = new Object();
    /** The sessions handed out, from their authentication until they are closed; guarded by {@link #lock}. */
    private final Set<AuthenticatedDestination> current = new java.util.HashSet<>();

    private final boolean serveOnly;

    private volatile boolean closed;

    private MigrationListener(ServerSocket server, SharedToken token, Limits limits, boolean serveOnly) {
        this.server = server;
        this.serveOnly = serveOnly;
        this.address = (InetSocketAddress) server.getLocalSocketAddress();
        this.token = token;
        this.limits = limits;
        String name = address.getHostString() + ":" + address.getPort();
        this.deadlines = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform()
                .name("migration-listener-deadlines-" + name)
                .daemon()
                .factory());
        this.acceptor = Thread.ofPlatform()
                .name("migration-listener-accept-" + name)
                .daemon()
                .unstarted(this::acceptLoop);
    }

    /**
     * Binds {@code address} now (port 0 picks a free port) and starts accepting.
     *
     * @param token the shared token every destination must prove, or {@code null} (then TLS authenticates, or plain
     *     TCP must be allowed explicitly)
     * @throws IOException {@code could not listen on ADDR: <reason>} if the address cannot be bound, or if it would be
     *     plain TCP without a token and {@code allowPlainTcp} is off
     */
    public static MigrationListener bind(
            InetSocketAddress address,
            TransportSecurity security,
            SharedToken token,
            boolean allowPlainTcp,
            Limits limits)
            throws IOException {
        return bind(address, security, token, allowPlainTcp, limits, false);
    }

    /**
     * As {@link #bind(InetSocketAddress, TransportSecurity, SharedToken, boolean, Limits)}; with {@code serveOnly} it
     * announces to every destination a source that never runs what it serves (a registry), whose sessions must run
     * with {@link SourceOptions#serveOnly()}.
     */
    public static MigrationListener bind(
            InetSocketAddress address,
            TransportSecurity security,
            SharedToken token,
            boolean allowPlainTcp,
            Limits limits,
            boolean serveOnly)
            throws IOException {
        if (security instanceof TransportSecurity.PlainTcp && token == null && !allowPlainTcp) {
            throw new IOException("could not listen on " + address
                    + ": plain TCP without a shared token authenticates nobody; use TLS, a token, or allow plain TCP"
                    + " explicitly");
        }
        MigrationListener l = new MigrationListener(Transport.bind(address, security), token, limits, serveOnly);
        if (token != null && security instanceof TransportSecurity.PlainTcp) {
            FrameCipher.warmUp(); // long before the first destination: see its comment
        }
        l.acceptor.start();
        return l;
    }

    /** The bound address (with the port picked when 0 was asked for). */
    public InetSocketAddress address() {
        return address;
    }

    /** Connections refused so far: before authentication, over the bound, or while busy. */
    public long refusedCount() {
        return refused.get();
    }

    /** Unauthenticated connections now. */
    public int pendingCount() {
        return pendingCount.get();
    }

    /**
     * Waits for the next authenticated destination. Start the migration on it with {@link MigrationSource#start(
     * AuthenticatedDestination, java.util.List, SourceOptions, SuspendHook, SourceListener)}, or close it; until then
     * the listener is busy.
     *
     * @throws SocketTimeoutException if none authenticated within {@code timeout}
     * @throws IOException if the listener is closed
     */
    public AuthenticatedDestination accept(Duration timeout) throws IOException, InterruptedException {
        Optional<AuthenticatedDestination> next = ready.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
        if (next == null) {
            throw new SocketTimeoutException("could not accept a migration on " + address
                    + ": no destination authenticated within " + Watchdog.seconds(timeout.toNanos()));
        }
        if (next.isEmpty()) {
            ready.offer(next); // for every other waiter
            throw new IOException("could not accept a migration on " + address + ": the listener is closed");
        }
        return next.get();
    }

    /**
     * Stops listening: unbinds, closes the unauthenticated connections and an authenticated session nobody accepted. A
     * session handed out by {@link #accept} stays with its migration. Idempotent.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            // Under the lock: a destination authenticating now is either queued before the drain below, or refused.
            closed = true;
        }
        closeQuietly(server);
        try {
            // Once the acceptor is gone no connection joins the pending ones: closing those below reaches them all.
            acceptor.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Pending p : pending) {
            closeQuietly(p.socket);
        }
        deadlines.shutdownNow();
        Optional<AuthenticatedDestination> unaccepted;
        while ((unaccepted = ready.poll()) != null) {
            unaccepted.ifPresent(AuthenticatedDestination::close);
        }
        ready.offer(Optional.empty());
    }

    @Override
    public String toString() {
        return "MigrationListener(" + address + ")";
    }

    // ------------------------------------------------------------------ accept thread

    private void acceptLoop() {
        while (!closed) {
            Socket s;
            try {
                s = server.accept();
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                // E.g. out of file descriptors: keep the port, try again a little later.
                LOG.log(Level.WARNING, "could not accept a migration connection on " + address + ": " + e.getMessage());
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    return;
                }
                continue;
            }
            String peer = s.getInetAddress().getHostAddress() + ":" + s.getPort();
            if (pendingCount.incrementAndGet() > limits.maxPending()) {
                pendingCount.decrementAndGet();
                refuse(peer, "more than " + limits.maxPending() + " unauthenticated connections at once");
                closeQuietly(s);
                continue;
            }
            Pending p = new Pending(s, peer);
            pending.add(p);
            try {
                p.deadline =
                        deadlines.schedule(p::expire, limits.handshakeTimeout().toNanos(), TimeUnit.NANOSECONDS);
                Thread.ofVirtual().name("migration-listener-handshake-" + peer).start(() -> authenticate(p));
            } catch (RuntimeException e) {
                // Only when closing: the scheduler is shut down.
                done(p);
                closeQuietly(s);
            }
        }
    }

    // ------------------------------------------------------------------ per connection

    /** Runs on the connection's own virtual thread: everything up to the destination's verified proof. */
    private void authenticate(Pending p) {
        Connection c = null;
        FrameProxy out = null;
        String reason;
        ProtocolException tell = null;
        try {
            c = Transport.accepted(p.socket, limits.handshakeTimeout());
            FrameAdapter in = new FrameAdapter(new BufferedInputStream(c.input(), READ_BUFFER_BYTES), p.peer);
            out = new FrameProxy(c.output());
            // Zstd is always offered: the source's options decide whether it is used.
            Handshake.Replied replied = Handshake.sourceAuthenticate(
                    in, out, p.peer, true, token, Handshake.sealsFrames(c, token), serveOnly);
            if (hold(p, c, in, out, replied)) {
                return;
            }
            reason = limits.maxSessions() == 1
                    ? "another migration is in progress"
                    : limits.maxSessions() + " sessions are open already";
            tell = new ProtocolException(ErrorCode.BUSY, reason);
        } catch (ProtocolException e) {
            reason = e.getMessage();
            tell = e.fromPeer() ? null : e;
        } catch (IOException | RuntimeException e) {
            reason = e.getMessage() == null ? e.toString() : e.getMessage();
        }
        if (p.state.get() == EXPIRED) {
            // The deadline closed the socket; whatever the read then reported, this is why.
            reason = "no authenticated handshake within "
                    + Watchdog.seconds(limits.handshakeTimeout().toNanos());
            tell = null;
        }
        if (tell != null && out != null) {
            try {
                // Bounded by the deadline, which is still armed: it closes the socket under a peer that does not read.
                out.sendNow(new Frame.Error(tell.code(), tell.getMessage()));
                c.shutdownOutput();
            } catch (IOException ignored) {
                // The peer is gone: it does not need the reason any more.
            }
        }
        // Logged, counted and no longer pending before the close: a peer that sees the close sees the listener settled.
        p.state.compareAndSet(PENDING, EXPIRED);
        if (p.deadline != null) {
            p.deadline.cancel(false);
        }
        // No longer pending before counted: whoever sees the refusal counted sees it gone from the pending ones.
        done(p);
        if (!closed) {
            refuse(p.peer, reason);
        }
        if (c != null) {
            c.close();
        } else {
            closeQuietly(p.socket);
        }
    }

    /**
     * Takes one of the listener's sessions for an authenticated destination and queues it for {@link #accept}; returns
     * {@code false} if every session is held (or the listener closed).
     */
    private boolean hold(Pending p, Connection c, FrameAdapter in, FrameProxy out, Handshake.Replied replied)
            throws InterruptedIOException {
        AuthenticatedDestination session;
        synchronized (lock) {
            if (closed || current.size() >= limits.maxSessions()) {
                return false;
            }
            if (!p.state.compareAndSet(PENDING, AUTHENTICATED)) {
                throw new InterruptedIOException("the handshake deadline passed");
            }
            session = new AuthenticatedDestination(
                    c, in, out, replied.zstd(), replied.copyOnly(), serveOnly, this::release);
            current.add(session);
            ready.offer(Optional.of(session));
        }
        p.deadline.cancel(false);
        done(p);
        return true;
    }

    private void release(AuthenticatedDestination session) {
        synchronized (lock) {
            current.remove(session);
        }
    }

    private void done(Pending p) {
        if (pending.remove(p)) {
            pendingCount.decrementAndGet();
        }
    }

    private void refuse(String peer, String reason) {
        LOG.log(Level.WARNING, "refused migration connection from " + peer + ": " + reason);
        refused.incrementAndGet();
    }

    private static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // Refusing: the connection is unusable either way.
        }
    }
}
