package io.drafter.pkg;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.Closeable;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;

/**
 * Writes a file that is made durable before anyone reads it (a package, an extracted device) with
 * {@code O_DIRECT} where the file system allows it: the bytes go from one aligned buffer to the disk,
 * without a copy into the page cache, without allocating page-cache memory for them and without evicting
 * what other processes have cached. The closing fsync then only has the metadata left to write.
 *
 * <p>Writes whose offset and length are multiples of {@link #ALIGN} go direct; any other write (the tail
 * of a file whose size is not a multiple) goes through the page cache on a second descriptor of the same
 * file, which the kernel keeps coherent. A file system that refuses {@code O_DIRECT} (tmpfs on older
 * kernels, some FUSE file systems), at open or at the first write, gets buffered writes throughout.
 * Not thread-safe, but usable from a thread other than the one that opened it.
 */
final class DirectWriter implements Closeable {
    /** Offsets and lengths of direct writes are multiples of this (every common logical block size divides it). */
    static final int ALIGN = 4096;

    private final Path path;
    private final FileChannel cached;
    private final ByteBuffer aligned;
    private FileChannel direct;
    private boolean wroteDirect;

    /**
     * Opens {@code path} for writing with {@code options} (as for {@link FileChannel#open}) and prepares
     * direct writes of up to {@code chunkBytes} (a multiple of {@link #ALIGN}) at a time.
     */
    DirectWriter(Path path, int chunkBytes, OpenOption... options) throws IOException {
        if (chunkBytes % ALIGN != 0) {
            throw new IllegalArgumentException("chunk of " + chunkBytes + " bytes is not a multiple of " + ALIGN);
        }
        this.path = path;
        // a file this creates is private (a package, a device); an existing one keeps its mode
        this.cached = FileChannel.open(path, Set.of(options), Packager.OWNER_ONLY);
        this.aligned = ByteBuffer.allocateDirect(chunkBytes + ALIGN)
                .alignedSlice(ALIGN)
                .limit(chunkBytes)
                .slice();
        this.direct = openDirect(path);
    }

    private static FileChannel openDirect(Path path) {
        try {
            long block = Files.getFileStore(path).getBlockSize();
            if (block <= 0 || ALIGN % block != 0) {
                return null; // a block size we cannot align to: write through the page cache
            }
            return FileChannel.open(path, Set.of(StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT));
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    /** True while writes go direct (false on a file system that refused {@code O_DIRECT}). */
    boolean isDirect() {
        return direct != null;
    }

    /** Writes {@code b[off, off+len)} at {@code position}; {@code len} is at most the chunk size. */
    void write(byte[] b, int off, int len, long position) throws IOException {
        int head = direct == null || position % ALIGN != 0 ? 0 : len - len % ALIGN;
        if (head > 0) {
            aligned.clear();
            aligned.put(b, off, head).flip();
            try {
                writeFully(direct, aligned, position);
                wroteDirect = true;
            } catch (IOException e) {
                if (wroteDirect || aligned.position() > 0) {
                    throw e; // direct writes worked before: a real write error, not a refusal of O_DIRECT
                }
                closeDirect(); // refused at the first write (EINVAL): buffered from now on
                head = 0;
            }
        }
        if (head < len) {
            writeFully(cached, ByteBuffer.wrap(b, off + head, len - head), position + head);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer bb, long position) throws IOException {
        long at = position;
        while (bb.hasRemaining()) {
            at += ch.write(bb, at);
        }
    }

    /** Sets the file's length (a hole at the end stays a hole). */
    void setLength(long size) throws IOException {
        if (cached.size() != size) {
            try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "rw")) {
                raf.setLength(size);
            }
        }
    }

    /** Makes the content and metadata durable ({@code fsync}). */
    void force() throws IOException {
        cached.force(true);
    }

    private void closeDirect() {
        try {
            direct.close();
        } catch (IOException ignored) {
            // nothing was written through it
        }
        direct = null;
    }

    @Override
    public void close() throws IOException {
        try {
            if (direct != null) {
                direct.close();
            }
        } finally {
            cached.close();
        }
    }

    @Override
    public String toString() {
        return "DirectWriter[" + path + (direct != null ? ", direct" : ", buffered") + "]";
    }
}
