package io.drafter.pkg;

import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * Writes chunks on a thread of its own, so that the caller decompresses the next chunk while the disk
 * takes the last one ({@link DirectWriter} writes block until the device has the data). A fixed set of
 * chunk buffers circulates between the caller and the writer, so memory stays at {@code buffers ×
 * chunkBytes}.
 *
 * <p>Use: {@link #buffer} → fill it → {@link #submit} (or {@link #recycle} when nothing is to be
 * written); then {@link #finish}, which waits for the writes and reports the first one that failed. A
 * write error is also reported by the next {@link #buffer} call, so the caller stops early. One caller
 * thread.
 */
final class WriteBehind implements Closeable {
    private record Chunk(byte[] bytes, int length, long position) {}

    private static final Chunk END = new Chunk(new byte[0], 0, -1);

    private final DirectWriter out;
    private final BlockingQueue<byte[]> free;
    private final BlockingQueue<Chunk> pending;
    private final Thread thread;
    private volatile IOException failure;
    private boolean ended;

    WriteBehind(DirectWriter out, int chunkBytes, int buffers) {
        this.out = out;
        this.free = new ArrayBlockingQueue<>(buffers);
        this.pending = new ArrayBlockingQueue<>(buffers + 1);
        for (int i = 0; i < buffers; i++) {
            free.add(new byte[chunkBytes]);
        }
        this.thread = Thread.ofPlatform().name("drafter-write-behind").daemon().start(this::run);
    }

    private void run() {
        try {
            while (true) {
                Chunk c = pending.take();
                if (c == END) {
                    return;
                }
                if (failure == null) {
                    try {
                        out.write(c.bytes(), 0, c.length(), c.position());
                    } catch (IOException e) {
                        failure = e;
                    } catch (RuntimeException | Error e) {
                        failure = new IOException("write to " + out + " failed: " + e, e);
                    }
                }
                free.add(c.bytes()); // always returned, so the caller never waits for a dead writer
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A buffer to fill; blocks while all are being written. Throws the error of an earlier write. */
    byte[] buffer() throws IOException {
        byte[] b = take(free);
        IOException f = failure;
        if (f != null) {
            free.add(b);
            throw f;
        }
        return b;
    }

    /** Queues {@code bytes[0, length)} to be written at {@code position}; the buffer comes back when written. */
    void submit(byte[] bytes, int length, long position) throws IOException {
        put(new Chunk(bytes, length, position));
    }

    /** Returns a buffer that is not to be written. */
    void recycle(byte[] bytes) {
        free.add(bytes);
    }

    /** Waits until every submitted chunk is written; throws the first write error. */
    void finish() throws IOException {
        end();
        IOException f = failure;
        if (f != null) {
            throw f;
        }
    }

    private void end() throws IOException {
        if (!ended) {
            ended = true;
            put(END);
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for writes to " + out);
        }
    }

    private void put(Chunk c) throws IOException {
        try {
            pending.put(c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while queueing a write to " + out);
        }
    }

    private static byte[] take(BlockingQueue<byte[]> q) throws IOException {
        try {
            return q.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting for a write buffer");
        }
    }

    /** Stops the writer thread (after the queued writes); does not close the {@link DirectWriter}. */
    @Override
    public void close() throws IOException {
        end();
    }
}
