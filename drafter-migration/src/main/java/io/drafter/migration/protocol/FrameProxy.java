package io.drafter.migration.protocol;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Encodes frames and writes them to a stream through a buffer; {@link #flush()} pushes them out. After {@link
 * #sendNowThenSeal} every frame leaves sealed by a {@link FrameCipher}.
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
    /** Seals every frame from the one after the switch; guarded by this. */
    private FrameCipher sealer;
    /** Where frames that cannot be sealed in place are sealed; grows to the largest such frame. */
    private byte[] scratch = new byte[0];

    public FrameProxy(OutputStream out) {
        this.out = new BufferedOutputStream(out, 256 << 10);
    }

    /**
     * Encodes and buffers {@code frame}; BLOCK data goes out without an extra copy. If a BLOCK's data sits in an array
     * with at least {@link FrameCodec#BLOCK_HEADER_BYTES} bytes before it (and, once frames are sealed, {@link
     * FrameCipher#TAG_BYTES} after it), the frame is built in that array and leaves in one write: the bytes before
     * are overwritten with the header and, when sealed, the data with its ciphertext and the bytes after with the tag.
     */
    public synchronized void send(Frame frame) throws IOException {
        if (sealer != null) {
            sendSealed(frame);
        } else if (frame instanceof Frame.BlockData d) {
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

    private void sendSealed(Frame frame) throws IOException {
        int wire;
        if (frame instanceof Frame.BlockData d) {
            ByteBuffer h = FrameCodec.encodeBlockHeader(d, header);
            int hb = h.limit();
            ByteBuffer data = d.data();
            int dataBytes = data.remaining();
            int start = data.hasArray() ? data.arrayOffset() + data.position() : 0;
            if (data.hasArray() && start >= hb && data.array().length - start - dataBytes >= FrameCipher.TAG_BYTES) {
                // Header before the data, tag after it: sealed in place, one write, no copy.
                byte[] a = data.array();
                System.arraycopy(h.array(), 0, a, start - hb, hb);
                wire = sealer.seal(a, start - hb + 4, hb - 4 + dataBytes, a, start - hb);
                out.write(a, start - hb, wire);
            } else {
                byte[] s = scratch(hb + dataBytes + FrameCipher.TAG_BYTES);
                System.arraycopy(h.array(), 4, s, 4, hb - 4);
                data.duplicate().get(s, hb, dataBytes);
                wire = sealer.seal(s, 4, hb - 4 + dataBytes, s, 0);
                out.write(s, 0, wire);
            }
        } else {
            ByteBuffer b = FrameCodec.encode(frame);
            byte[] s = scratch(b.limit() + FrameCipher.TAG_BYTES);
            wire = sealer.seal(b.array(), 4, b.limit() - 4, s, 0);
            out.write(s, 0, wire);
        }
        bytesSent.addAndGet(wire);
    }

    private byte[] scratch(int bytes) {
        if (scratch.length < bytes) {
            scratch = new byte[bytes];
        }
        return scratch;
    }

    /**
     * Sends {@code last} in clear, flushes, and seals every later frame with {@code sealer}: one step, so that no frame
     * of another thread (a PING) slips between the two.
     *
     * @throws IllegalStateException if frames are sealed already
     */
    public synchronized void sendNowThenSeal(Frame last, FrameCipher sealer) throws IOException {
        if (this.sealer != null) {
            throw new IllegalStateException("frames are sealed already");
        }
        sendNow(last);
        this.sealer = sealer;
    }

    /** Whether frames leave sealed. */
    public synchronized boolean sealed() {
        return sealer != null;
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
