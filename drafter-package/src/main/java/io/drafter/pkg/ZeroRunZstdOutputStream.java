package io.drafter.pkg;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * A Zstandard compressor that does not compress long runs of zeros: it ends the current frame and writes
 * prepared frames that decode to 1 MiB × 2^k (k ≤ 4) zero bytes, then starts a new frame for the following data.
 * The output is a standard zstd stream of concatenated frames (RFC 8878 §3.1), each with a content
 * checksum, readable by {@code zstd -d}, Go's decoders and zstd-jni. It makes packing a sparse device cost
 * nothing for its holes, which are most of a VM's memory and disk.
 *
 * <p>Expects writes of whole blocks of {@code blockBytes} (as the tar stream above it makes them); only
 * whole zero blocks are recognised. Not thread-safe.
 */
final class ZeroRunZstdOutputStream extends OutputStream {
    /** Zero runs shorter than this stay inside the current frame (a frame switch costs a little ratio). */
    static final int MIN_RUN_BYTES = 1 << 20;

    // prepared frames for 1 MiB .. 16 MiB of zeros: preparing them compresses 31 MiB once (~30 ms);
    // a 1 GiB hole is then 64 frames of ~0.5 KiB
    private static final int MAX_SHIFT = 4;
    private static final byte[][] ZERO_FRAMES = prepareZeroFrames();

    private final OutputStream out;
    private final int level;
    private final int workers;
    private final byte[] zeros;
    private ZstdOutputStream frame;
    private long pendingZeroBytes;
    private boolean closed;

    ZeroRunZstdOutputStream(OutputStream out, int level, int workers, int blockBytes) {
        this.out = out;
        this.level = level;
        this.workers = workers;
        this.zeros = new byte[blockBytes];
    }

    private static byte[][] prepareZeroFrames() {
        byte[][] frames = new byte[MAX_SHIFT + 1][];
        byte[] zero = new byte[MIN_RUN_BYTES];
        for (int k = 0; k <= MAX_SHIFT; k++) {
            try (ByteArrayOutputStream bytes = new ByteArrayOutputStream()) {
                try (ZstdOutputStream z = new ZstdOutputStream(bytes, 1)) {
                    z.setChecksum(true);
                    for (long i = 0; i < (1L << k); i++) {
                        z.write(zero);
                    }
                }
                frames[k] = bytes.toByteArray();
            } catch (IOException e) {
                throw new ExceptionInInitializerError(e);
            }
        }
        return frames;
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        if (len == zeros.length && Arrays.mismatch(b, off, off + len, zeros, 0, len) < 0) {
            pendingZeroBytes += len;
            return;
        }
        flushZeros();
        data().write(b, off, len);
    }

    private ZstdOutputStream data() throws IOException {
        if (frame == null) {
            frame = new ZstdOutputStream(new FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                }

                @Override
                public void close() throws IOException {
                    flush(); // the file stays open for the next frame
                }
            });
            frame.setLevel(level);
            frame.setChecksum(true);
            if (workers > 0) {
                frame.setWorkers(workers);
            }
        }
        return frame;
    }

    private void flushZeros() throws IOException {
        if (pendingZeroBytes == 0) {
            return;
        }
        long run = pendingZeroBytes;
        pendingZeroBytes = 0;
        if (run < MIN_RUN_BYTES) {
            ZstdOutputStream z = data();
            for (long done = 0; done < run; done += zeros.length) {
                z.write(zeros);
            }
            return;
        }
        endFrame();
        long mib = run / MIN_RUN_BYTES;
        for (int k = MAX_SHIFT; k >= 0; k--) {
            while (mib >= (1L << k)) {
                out.write(ZERO_FRAMES[k]);
                mib -= 1L << k;
            }
        }
        long rest = run % MIN_RUN_BYTES;
        ZstdOutputStream z = rest > 0 ? data() : null;
        for (long done = 0; done < rest; done += zeros.length) {
            z.write(zeros);
        }
    }

    private void endFrame() throws IOException {
        if (frame != null) {
            ZstdOutputStream f = frame;
            frame = null;
            f.close();
        }
    }

    @Override
    public void flush() throws IOException {
        if (frame != null) {
            frame.flush();
        }
        out.flush();
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            flushZeros();
            if (frame == null) {
                data(); // an empty archive is still one (empty) frame
            }
            endFrame();
        } finally {
            out.close();
        }
    }
}
