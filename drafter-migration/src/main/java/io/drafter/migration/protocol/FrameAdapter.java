package io.drafter.migration.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.AEADBadTagException;

/**
 * Reads length-prefixed frames from a stream and decodes them; the caller dispatches on the sealed {@link Frame}.
 *
 * <p>A length outside {@code 1..}{@link #maxFrameBytes()} is rejected before anything is allocated. The bound is
 * {@value FrameCodec#MAX_FRAME_BYTES} unless lowered with {@link #limitFrameBytes}: an unauthenticated peer gets only
 * what the handshake needs, so that it cannot make this side allocate megabytes.
 *
 * <p>After {@link #openWith} every frame must be sealed ({@link FrameCipher}): its length may be {@value
 * FrameCipher#TAG_BYTES} bytes longer, and a frame that does not open (changed, replayed, reordered, injected, or one
 * before it missing) is a {@link ProtocolException} {@link ErrorCode#AUTH_FAILED} {@code could not authenticate frame
 * N from PEER: ...}. It is read into a buffer of its own and opened into the frame's buffer: the JDK opens GCM about
 * twice as fast out of place as in place.
 *
 * <p><b>Note:</b> not thread-safe: one reader thread per connection. The counters may be read from any thread.
 */
public final class FrameAdapter {
    private final InputStream in;
    private final String peer;
    private final byte[] lengthBytes = new byte[4];
    private final AtomicLong bytesReceived = new AtomicLong();
    private final AtomicLong framesReceived = new AtomicLong();
    private volatile long lastFrameNanos = System.nanoTime();
    private volatile BufferPool pool;
    private volatile int maxFrameBytes = FrameCodec.MAX_FRAME_BYTES;
    private volatile FrameCipher opener;
    /** Where sealed frames are read before they are opened; grows to the largest one. */
    private byte[] sealed = new byte[0];

    /** Reads from {@code in} (buffer it: frames are read in small pieces); {@code peer} names it in errors. */
    public FrameAdapter(InputStream in, String peer) {
        this.in = in;
        this.peer = peer;
    }

    /**
     * Reads and decodes the next frame, blocking until it is complete.
     *
     * @throws EOFException if the peer closed the connection (the message says whether mid-frame)
     * @throws ProtocolException if the frame is malformed
     */
    public Frame read() throws IOException {
        int got = readFully(lengthBytes, 0, 4);
        if (got == 0) {
            throw new EOFException("connection closed by " + peer);
        }
        if (got < 4) {
            throw new EOFException("connection to " + peer + " closed inside a frame header (" + got + " of 4 bytes)");
        }
        int length = ByteBuffer.wrap(lengthBytes).getInt();
        FrameCipher o = opener;
        int extra = o == null ? 0 : FrameCipher.TAG_BYTES;
        int max = maxFrameBytes + extra;
        if (length < 1 + extra || length > max) {
            throw new ProtocolException(
                    ErrorCode.MALFORMED_FRAME,
                    "malformed frame: length " + Integer.toUnsignedString(length) + " outside " + (1 + extra) + ".."
                            + max);
        }
        int bodyBytes = length - extra;
        BufferPool p = pool;
        byte[] body = p != null ? p.take(bodyBytes) : new byte[bodyBytes];
        try {
            if (o == null) {
                readBody(body, length);
            } else {
                if (sealed.length < length) {
                    sealed = new byte[length];
                }
                readBody(sealed, length);
                try {
                    o.open(lengthBytes, sealed, 0, length, body, 0);
                } catch (AEADBadTagException e) {
                    throw new ProtocolException(
                            ErrorCode.AUTH_FAILED,
                            "could not authenticate frame " + o.counter() + " from " + peer + ": " + e.getMessage());
                }
            }
        } catch (IOException e) {
            if (p != null) {
                p.give(body);
            }
            throw e;
        }
        bytesReceived.addAndGet(4L + length);
        framesReceived.incrementAndGet();
        lastFrameNanos = System.nanoTime();
        Frame f;
        try {
            f = FrameCodec.decode(ByteBuffer.wrap(body, 0, bodyBytes));
        } catch (ProtocolException e) {
            if (p != null) {
                p.give(body);
            }
            throw e;
        }
        if (p != null && !(f instanceof Frame.BlockData)) {
            p.give(body);
        }
        return f;
    }

    private void readBody(byte[] into, int length) throws IOException {
        int n = readFully(into, 0, length);
        if (n < length) {
            throw new EOFException(
                    "connection to " + peer + " closed inside a frame (" + n + " of " + length + " bytes)");
        }
    }

    private int readFully(byte[] b, int off, int len) throws IOException {
        int total = 0;
        while (total < len) {
            int r = in.read(b, off + total, len - total);
            if (r < 0) {
                break;
            }
            total += r;
        }
        return total;
    }

    /**
     * Reads frame bodies into buffers of {@code pool}. A BLOCK frame's data then lives in a pooled array: whoever
     * consumes it gives {@code data().array()} back; other frames give theirs back at once.
     */
    public void usePool(BufferPool pool) {
        this.pool = pool;
    }

    /**
     * Opens every frame from the next one on with {@code opener}: the peer seals all it sends after this point. Called
     * by the reader thread between two reads.
     *
     * @throws IllegalStateException if frames are opened already
     */
    public void openWith(FrameCipher opener) {
        if (this.opener != null) {
            throw new IllegalStateException("frames are opened already");
        }
        this.opener = opener;
    }

    /** Whether frames arrive sealed. */
    public boolean sealed() {
        return opener != null;
    }

    /**
     * Sets the longest frame (type and payload) this reader accepts from now on, {@code 1..}{@value
     * FrameCodec#MAX_FRAME_BYTES}; a longer length prefix fails the next {@link #read()} before allocating.
     */
    public void limitFrameBytes(int maxBytes) {
        if (maxBytes < 1 || maxBytes > FrameCodec.MAX_FRAME_BYTES) {
            throw new IllegalArgumentException("frame limit " + maxBytes + " outside 1.." + FrameCodec.MAX_FRAME_BYTES);
        }
        this.maxFrameBytes = maxBytes;
    }

    /** The longest frame (type and payload) this reader accepts now. */
    public int maxFrameBytes() {
        return maxFrameBytes;
    }

    /** Bytes received so far, length prefixes included. */
    public long bytesReceived() {
        return bytesReceived.get();
    }

    /** Frames received so far. */
    public long framesReceived() {
        return framesReceived.get();
    }

    /** {@link System#nanoTime()} when the last complete frame arrived (or when this adapter was made). */
    public long lastFrameNanos() {
        return lastFrameNanos;
    }
}
