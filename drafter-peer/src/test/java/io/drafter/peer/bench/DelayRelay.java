package io.drafter.peer.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A TCP relay that holds every chunk it reads for a fixed delay before writing it on, in each direction: the latency of
 * a long link where the kernel has no {@code netem}. Order is kept (one reader and one writer per direction, a FIFO
 * between them), an end of stream is passed on as a half-close after the same delay, and memory is bounded: a reader
 * stops reading while {@code capacityBytes} of its direction wait to be written (the sender then feels the full pipe
 * as TCP back-pressure). When both directions have ended the relay closes both sockets; when one side fails (reset,
 * closed), it closes both at once.
 *
 * <p>Not a model of TCP over a long path: each side's TCP talks to the relay over a short hop, so slow start, window
 * limits and loss recovery over the round trip are not reproduced; what the application sees is the added latency and,
 * with a rate limit on the hop under the relay, the bandwidth.
 *
 * <p>Threads: one named platform thread accepts; each relayed connection gets a reader and a writer thread per
 * direction (named after the relay). {@link #close()} stops accepting, closes every relayed connection and waits for
 * all these threads. Thread-safe.
 */
public final class DelayRelay implements AutoCloseable {
    /** The largest chunk one read takes. */
    static final int CHUNK_BYTES = 64 * 1024;

    /** Opens the onward connection for each accepted one (e.g. from inside a network namespace). */
    @FunctionalInterface
    public interface Dialer {
        SocketChannel dial() throws IOException;
    }

    private final String name;
    private final ServerSocketChannel listener;
    private final Dialer dialer;
    private final long forwardDelayNs;
    private final long backDelayNs;
    private final int capacityBytes;
    private final List<Pair> pairs = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private Thread acceptor;
    private final AtomicLong bytesForward = new AtomicLong();
    private final AtomicLong bytesBack = new AtomicLong();
    private final AtomicInteger connections = new AtomicInteger();
    private volatile boolean closed;
    private volatile int sendBufferBytes;

    private DelayRelay(
            String name,
            ServerSocketChannel listener,
            Dialer dialer,
            Duration forwardDelay,
            Duration backDelay,
            int capacityBytes) {
        if (forwardDelay.isNegative() || backDelay.isNegative()) {
            throw new IllegalArgumentException(
                    "could not start relay " + name + ": negative delay " + forwardDelay + " / " + backDelay);
        }
        if (capacityBytes < 1) {
            throw new IllegalArgumentException("could not start relay " + name + ": capacity " + capacityBytes);
        }
        this.name = name;
        this.listener = listener;
        this.dialer = dialer;
        this.forwardDelayNs = forwardDelay.toNanos();
        this.backDelayNs = backDelay.toNanos();
        this.capacityBytes = capacityBytes;
    }

    /**
     * Starts relaying every connection accepted on {@code listener} (bound; the relay owns and closes it) to one that
     * {@code dialer} opens, each byte held {@code oneWayDelay} in each direction, at most {@code capacityBytes} held
     * per direction and connection.
     */
    public static DelayRelay start(
            String name, ServerSocketChannel listener, Dialer dialer, Duration oneWayDelay, int capacityBytes) {
        return start(name, listener, dialer, oneWayDelay, oneWayDelay, capacityBytes);
    }

    /**
     * As {@link #start(String, ServerSocketChannel, Dialer, Duration, int)}, with a delay of its own for each
     * direction: {@code forwardDelay} from the accepted side onward, {@code backDelay} back.
     */
    public static DelayRelay start(
            String name,
            ServerSocketChannel listener,
            Dialer dialer,
            Duration forwardDelay,
            Duration backDelay,
            int capacityBytes) {
        DelayRelay r = new DelayRelay(name, listener, dialer, forwardDelay, backDelay, capacityBytes);
        r.acceptor = Thread.ofPlatform().name(name + "-accept").start(r::acceptLoop);
        r.threads.add(r.acceptor);
        return r;
    }

    /**
     * Gives the sockets of connections accepted from now on a send buffer of {@code bytes} (the kernel doubles it)
     * instead of the kernel's autotuned one; returns this relay.
     */
    public DelayRelay sendBuffer(int bytes) {
        sendBufferBytes = bytes;
        return this;
    }

    /** The address the relay accepts on. */
    public InetSocketAddress address() throws IOException {
        return (InetSocketAddress) listener.getLocalAddress();
    }

    /** Bytes written onward (accepted side to dialled side), over all connections so far. */
    public long bytesForward() {
        return bytesForward.get();
    }

    /** Bytes written back (dialled side to accepted side), over all connections so far. */
    public long bytesBack() {
        return bytesBack.get();
    }

    /** Connections accepted so far. */
    public int connections() {
        return connections.get();
    }

    /** Threads of this relay still alive (0 after {@link #close()}). */
    public int liveThreads() {
        return (int) threads.stream().filter(Thread::isAlive).count();
    }

    private void acceptLoop() {
        int n = 0;
        while (!closed) {
            SocketChannel accepted;
            try {
                accepted = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            connections.incrementAndGet();
            SocketChannel onward = null;
            try {
                onward = dialer.dial();
                for (SocketChannel c : List.of(accepted, onward)) {
                    c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    if (sendBufferBytes > 0) {
                        c.setOption(StandardSocketOptions.SO_SNDBUF, sendBufferBytes);
                    }
                }
            } catch (IOException | RuntimeException e) {
                System.err.println("relay " + name + ": could not dial onward: " + e);
                closeQuietly(accepted);
                closeQuietly(onward);
                continue;
            }
            Pair p = new Pair(accepted, onward);
            pairs.add(p);
            n++;
            p.start(name + "-" + n);
            if (closed) {
                p.abort();
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        closeQuietly(listener);
        acceptor.join(TimeUnit.SECONDS.toMillis(10)); // then no pair is added any more
        for (Pair p : pairs) {
            p.abort();
        }
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(10));
            if (t.isAlive()) {
                throw new IllegalStateException(
                        "could not stop relay " + name + ": thread " + t.getName() + " runs on");
            }
        }
    }

    static void closeQuietly(java.io.Closeable c) {
        try {
            if (c != null) {
                c.close();
            }
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    /** One relayed connection: two directions; closes both sockets when both ended or one failed. */
    private final class Pair {
        private final SocketChannel accepted;
        private final SocketChannel onward;
        private final AtomicInteger ended = new AtomicInteger();
        private final List<Thread> own = new CopyOnWriteArrayList<>();

        Pair(SocketChannel accepted, SocketChannel onward) {
            this.accepted = accepted;
            this.onward = onward;
        }

        void start(String threadName) {
            for (Direction d : List.of(
                    new Direction(accepted, onward, forwardDelayNs, bytesForward),
                    new Direction(onward, accepted, backDelayNs, bytesBack))) {
                String prefix = threadName + (d.from == accepted ? "-fwd" : "-back");
                Thread reader = Thread.ofPlatform().name(prefix + "-read").unstarted(d::read);
                Thread writer = Thread.ofPlatform().name(prefix + "-write").unstarted(d::write);
                own.add(reader);
                own.add(writer);
                threads.add(reader);
                threads.add(writer);
                reader.start();
                writer.start();
            }
        }

        /** A direction passed on its end of stream. */
        void ended() {
            if (ended.incrementAndGet() == 2) {
                closeQuietly(accepted);
                closeQuietly(onward);
            }
        }

        void abort() {
            closeQuietly(accepted);
            closeQuietly(onward);
            for (Thread t : own) {
                if (t != Thread.currentThread()) {
                    t.interrupt();
                }
            }
        }

        /** Reads {@code from}, holds each chunk until it is due, writes it to {@code to}. */
        private final class Direction {
            /** What the reader hands the writer: data (empty buffer = end of stream) and when to write it. */
            private record Chunk(ByteBuffer data, long dueNs) {}

            final SocketChannel from;
            final SocketChannel to;
            final long delayNs;
            final AtomicLong counter;
            final Semaphore room = new Semaphore(capacityBytes);
            final BlockingQueue<Chunk> queue = new LinkedBlockingQueue<>();

            Direction(SocketChannel from, SocketChannel to, long delayNs, AtomicLong counter) {
                this.from = from;
                this.to = to;
                this.delayNs = delayNs;
                this.counter = counter;
            }

            void read() {
                int chunk = Math.min(CHUNK_BYTES, capacityBytes);
                ByteBuffer buf = ByteBuffer.allocateDirect(chunk);
                try {
                    while (true) {
                        room.acquire(chunk);
                        buf.clear();
                        int n = from.read(buf);
                        long due = System.nanoTime() + delayNs;
                        if (n < 0) {
                            room.release(chunk);
                            queue.put(new Chunk(ByteBuffer.allocate(0), due));
                            return;
                        }
                        room.release(chunk - n);
                        buf.flip();
                        ByteBuffer copy = ByteBuffer.allocate(n).put(buf).flip();
                        queue.put(new Chunk(copy, due));
                    }
                } catch (IOException | InterruptedException e) {
                    abort();
                }
            }

            void write() {
                try {
                    while (true) {
                        Chunk c = queue.take();
                        for (long wait; (wait = c.dueNs() - System.nanoTime()) > 0; ) {
                            LockSupport.parkNanos(wait);
                            if (Thread.interrupted()) {
                                throw new InterruptedException();
                            }
                        }
                        if (!c.data().hasRemaining()) {
                            to.shutdownOutput();
                            ended();
                            return;
                        }
                        int n = c.data().remaining();
                        while (c.data().hasRemaining()) {
                            to.write(c.data());
                        }
                        counter.addAndGet(n);
                        room.release(n);
                    }
                } catch (IOException | InterruptedException e) {
                    abort();
                }
            }
        }
    }
}
