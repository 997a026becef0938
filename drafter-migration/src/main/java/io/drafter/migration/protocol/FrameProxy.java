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

    /**
     * Encodes and buffers {@code frame}; BLOCK data goes out without an extra copy. If a BLOCK's data sits in an array
     * with at least {@link FrameCodec#BLOCK_HEADER_BYTES} bytes before it, the header is written into those bytes
     * (they are overwritten) and the frame leaves in one write.
     */
    public synchronized void send(Frame frame) throws IOException {
        if (frame instanceof Frame.BlockData d) {
            ByteBuffer h = FrameCodec.encodeBlockHeader(d, header);
            ByteBuffer data = d.data();
            int start = data.hasArray() ? data.arrayOffset() + data.position() : 0;
            if (data.hasArray() && start >= h.limit()) {
                // The sender left room before the data: one write carries header and data, no copy.
                byte[] a = data.array();
                System.arraycopy(h.array(), 0, a, start - h.limit(), h.limit());
                out.write(a, start - h.limit(), h.limit() + data.remaining());
            } else if (data.hasArray()) {
                out.write(h.array(), 0, h.limit());
                out.write(data.array(), data.arrayOffset() + data.position(), data.remaining());
            } else {
                out.write(h.array(), 0, h.limit());
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
