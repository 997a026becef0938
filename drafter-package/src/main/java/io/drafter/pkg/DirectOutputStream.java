package io.drafter.pkg;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.OpenOption;
import java.nio.file.Path;

/**
 * A buffered output stream to a new file that writes whole chunks with {@code O_DIRECT} (see {@link
 * DirectWriter}) and makes the file durable when closed: {@link #close} writes the tail and fsyncs. Not
 * thread-safe.
 */
final class DirectOutputStream extends OutputStream {
    private final DirectWriter writer;
    private final byte[] buf;
    private int count;
    private long position;
    private boolean closed;
    private boolean failed;

    DirectOutputStream(Path path, int chunkBytes, OpenOption... options) throws IOException {
        this.writer = new DirectWriter(path, chunkBytes, options);
        this.buf = new byte[chunkBytes];
    }

    @Override
    public void write(int b) throws IOException {
        if (count == buf.length) {
            drain();
        }
        buf[count++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
            if (count == buf.length) {
                drain();
            }
            int n = Math.min(len, buf.length - count);
            System.arraycopy(b, off, buf, count, n);
            count += n;
            off += n;
            len -= n;
        }
    }

    private void drain() throws IOException {
        try {
            writer.write(buf, 0, count, position);
        } catch (IOException e) {
            failed = true;
            throw e;
        }
        position += count;
        count = 0;
    }

    /** True once writing to the file failed (so that a caller can tell its own errors from the file's). */
    boolean failed() {
        return failed;
    }

    /** Writes the buffered bytes, fsyncs the file and closes it. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try (DirectWriter w = writer) {
            drain();
            try {
                w.force();
            } catch (IOException e) {
                failed = true;
                throw e;
            }
        }
    }
}
