package io.drafter.migration.protocol;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Encodes frames and writes them to a stream through a buffer; {@link #flush()} pushes them out.
 *
 * <p><b>Note:</b> thread-safe (methods are synchronized), but engines give it one writer thread so that the order of
 * frames is the order of decisions.
 */
public final class FrameProxy {
    private final OutputStream out;
    private final ByteBuffer header = ByteBuffer.allocate(FrameCodec.BLOCK_HEADER_BYTES);
    private final AtomicLong bytesSent = new AtomicLong();
    private final AtomicLong framesSent = new AtomicLong();
    private volatile long lastSendNanos = System.nanoTime();

    public FrameProxy(OutputStream out) {
        this.out = new BufferedOutputStream(out, 256 << 10);
    }

    /** Encodes and buffers {@code frame}; BLOCK data goes out without an extra copy. */
    public synchronized void send(Frame frame) throws IOException {
        if (frame instanceof Frame.BlockData d) {
            ByteBuffer h = FrameCodec.encodeBlockHeader(d, header);
            out.write(h.array(), 0, h.limit());
            ByteBuffer data = d.data();
            if (data.hasArray()) {
                out.write(data.array(), data.arrayOffset() + data.position(), data.remaining());
            } else {
                byte[] copy = new byte[data.remaining()];
                data.duplicate().get(copy);
                out.write(copy);
            }
            bytesSent.addAndGet(h.limit() + data.remaining());
        } else {
            ByteBuffer b = FrameCodec.encode(frame);
            out.write(b.array(), 0, b.limit());
            bytesSent.addAndGet(b.limit());
        }
        framesSent.incrementAndGet();
        lastSendNanos = System.nanoTime();
    }

    /** Sends buffered frames. */
    public synchronized void flush() throws IOException {
        out.flush();
    }

    /** Sends {@code frame} and flushes. */
    public synchronized void sendNow(Frame frame) throws IOException {
        send(frame);
        flush();
    }

    public long bytesSent() {
        return bytesSent.get();
    }

    public long framesSent() {
        return framesSent.get();
    }

    /** {@link System#nanoTime()} of the last frame buffered. */
    public long lastSendNanos() {
        return lastSendNanos;
    }
}
