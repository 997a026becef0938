package io.drafter.peer;

import io.drafter.storage.BlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The zeros after the device state in the state device. A suspend writes the new state at the start and must zero what
 * an older, longer state left behind it; every write marks blocks dirty that a migration then sends in its final set,
 * inside the paused window, so only chunks that are not zero already are written. Checking the whole tail (2 MiB read
 * and compared) takes 1–6 ms inside the paused window of a fresh peer; {@link #zeroFrom} finds ahead, with the VM still
 * running, where the zeros begin, and the suspend then checks only the chunks before that.
 */
final class StateTail {
    /** The unit the tail is read, compared and written in. */
    static final int CHUNK = 1 << 16;

    private StateTail() {}

    /**
     * Where the trailing zeros of {@code dev} begin: the end of its last chunk that is not all zero, 0 if none. Reads
     * from the end backwards, so a short state costs a read of the tail once.
     */
    static long zeroFrom(BlockDevice dev) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocate(CHUNK);
        ByteBuffer current = ByteBuffer.allocate(CHUNK);
        long size = dev.sizeBytes();
        for (long off = (size - 1) / CHUNK * CHUNK; size > 0 && off >= 0; off -= CHUNK) {
            int n = (int) Math.min(CHUNK, size - off);
            if (!isZero(dev, off, n, current, zeros)) {
                return off + n;
            }
        }
        return 0;
    }

    /**
     * Zeroes {@code [from, to)} of {@code dev} ({@code to} capped at its size), writing only the chunks (counted from
     * {@code from}) that are not zero already. The caller knows that what lies past {@code to} is zero.
     */
    static void zero(BlockDevice dev, long from, long to) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocate(CHUNK);
        ByteBuffer current = ByteBuffer.allocate(CHUNK);
        long end = Math.min(to, dev.sizeBytes());
        for (long off = from; off < end; off += CHUNK) {
            int n = (int) Math.min(CHUNK, dev.sizeBytes() - off);
            if (!isZero(dev, off, n, current, zeros)) {
                dev.write(zeros.clear().limit(n), off);
            }
        }
    }

    private static boolean isZero(BlockDevice dev, long off, int n, ByteBuffer current, ByteBuffer zeros)
            throws IOException {
        current.clear().limit(n);
        dev.read(current, off); // fills the buffer: the chunk lies inside the device
        return current.flip().mismatch(zeros.clear().limit(n)) == -1;
    }
}
