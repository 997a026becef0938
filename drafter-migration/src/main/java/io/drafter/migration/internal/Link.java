package io.drafter.migration.internal;

import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameAdapter;
import io.drafter.migration.protocol.FrameProxy;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.transport.Connection;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * What each engine holds of its connection: the frame reader and writer, the keep-alive interval, the no-progress
 * watchdog, and the way a failure is told to the peer.
 *
 * <p><b>Note:</b> thread-safe as its parts are: one reader thread uses {@link #in()}, writers share {@link #out()}.
 */
public final class Link {
    private final Connection connection;
    private final String peer;
    private final FrameAdapter in;
    private final FrameProxy out;
    private final long heartbeatNs;

    private final Watchdog watchdog;
    private final CountDownLatch readerDone = new CountDownLatch(1);
    private volatile Thread reader;
    private volatile long startedNs = System.nanoTime();

    /**
     * Wraps {@code connection}; {@code peerRole} ("source" or "destination") names the peer in the stall message given
     * to {@code onStall}.
     */
    public Link(
            Connection connection,
            String peerRole,
            Duration stallTimeout,
            int readBufferBytes,
            Consumer<ProtocolException> onStall)
            throws IOException {
        this(
                connection,
                new FrameAdapter(new BufferedInputStream(connection.input(), readBufferBytes), connection.peer()),
                new FrameProxy(connection.output()),
                peerRole,
                stallTimeout,
                onStall);
    }

    /**
     * Wraps {@code connection} whose reader and writer exist already (a handshake ran on them: the reader may hold
     * buffered bytes).
     */
    public Link(
            Connection connection,
            FrameAdapter in,
            FrameProxy out,
            String peerRole,
            Duration stallTimeout,
            Consumer<ProtocolException> onStall) {
        this.connection = connection;
        this.peer = connection.peer();
        this.in = in;
        this.out = out;
        this.heartbeatNs = Math.max(1_000_000L, stallTimeout.toNanos() / 4);
        // Quiet time counts from start(): frames read before (a handshake done elsewhere) may be long ago.
        this.watchdog = new Watchdog(
                "migration-watchdog-" + peerRole + "-" + peer,
                stallTimeout,
                () -> Math.max(in.lastFrameNanos(), startedNs),
                quiet -> onStall.accept(new ProtocolException(
                        ErrorCode.TIMEOUT,
                        "no frame from " + peerRole + " " + peer + " for " + Watchdog.seconds(quiet))));
    }

    /** The connection this link wraps. */
    public Connection connection() {
        return connection;
    }

    /** The peer, for messages. */
    public String peer() {
        return peer;
    }

    /** The frame reader: used by one reader thread. */
    public FrameAdapter in() {
        return in;
    }

    /** The frame writer. */
    public FrameProxy out() {
        return out;
    }

    /** Send a PING when nothing was sent for this long: a quarter of the stall timeout. */
    public long heartbeatNs() {
        return heartbeatNs;
    }

    /** Registers the engine's reader thread; it calls {@link #readerDone()} when it stops reading. */
    public void reader(Thread t) {
        reader = t;
    }

    /** Called by the reader thread when it stops reading. */
    public void readerDone() {
        readerDone.countDown();
    }

    /** Starts the watchdog. */
    public void start() {
        startedNs = System.nanoTime();
        watchdog.start();
    }

    /** Stops the watchdog (the session ended). */
    public void stopWatchdog() {
        watchdog.stop();
    }

    /**
     * Ends the session after a failure: tells the peer with an ERROR frame unless the peer sent the error itself
     * (waiting at most 500 ms: a stalled peer may not read), then closes the connection.
     */
    public void failAndClose(Throwable cause, String message) {
        watchdog.stop();
        if (!(cause instanceof ProtocolException pe && pe.fromPeer())) {
            ErrorCode code = cause instanceof ProtocolException pe ? pe.code() : ErrorCode.ABORTED;
            Thread t = Thread.ofVirtual().start(() -> {
                try {
                    out.sendNow(new Frame.Error(code, message));
                } catch (IOException ignored) {
                    // The connection is going away anyway.
                }
            });
            try {
                t.join(Duration.ofMillis(500));
                // Half-close and let our reader drain what the peer still sends: closing a socket with unread data
                // resets the connection, and the peer would lose the ERROR frame.
                connection.shutdownOutput();
                if (reader != null && reader != Thread.currentThread()) {
                    readerDone.await(300, TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        connection.close();
    }

    /** Waits for {@code f}; its failure is rethrown as the engine's {@link IOException}. */
    public static <T> T await(CompletableFuture<T> f, Duration timeout) throws IOException, InterruptedException {
        try {
            return f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException(e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("migration did not get there within " + timeout);
        }
    }
}
