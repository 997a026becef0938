package io.drafter.storage.source;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockMath;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/**
 * A device stored in a regular file, byte for byte, with positional reads and writes.
 *
 * <p>{@link #create} makes the file sparse (only written ranges take space) and private ({@code 0600}), so the
 * same class serves as a copy-on-write overlay. {@link #open} uses an existing file at its current size.
 *
 * <p><b>Note:</b> thread-safe; {@link FileChannel} positional I/O does not move a shared position.
 */
public final class FileBlockDevice implements BlockDevice {
    /** Mode of the files devices create, {@code rw-------}; a stricter umask narrows it further. */
    public static final FileAttribute<Set<PosixFilePermission>> OWNER_ONLY = PosixFilePermissions.asFileAttribute(
            EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));

    private final Path path;
    private final FileChannel channel;
    private final long sizeBytes;
    private final int blockSizeBytes;
    private final boolean writable;

    private FileBlockDevice(Path path, FileChannel channel, long sizeBytes, int blockSizeBytes, boolean writable) {
        this.path = path;
        this.channel = channel;
        this.sizeBytes = sizeBytes;
        this.blockSizeBytes = blockSizeBytes;
        this.writable = writable;
    }

    /** Opens an existing file as a device of its current size; {@code writable=false} opens it read-only. */
    public static FileBlockDevice open(Path path, int blockSizeBytes, boolean writable) throws IOException {
        BlockMath.requirePowerOfTwo(blockSizeBytes, "blockSize of " + path);
        if (!Files.isRegularFile(path)) {
            throw new IOException("could not open device file " + path + ": no such regular file");
        }
        Set<StandardOpenOption> options = writable
                ? EnumSet.of(StandardOpenOption.READ, StandardOpenOption.WRITE)
                : EnumSet.of(StandardOpenOption.READ);
        FileChannel channel = FileChannel.open(path, options);
        return new FileBlockDevice(path, channel, channel.size(), blockSizeBytes, writable);
    }

    /**
     * Opens {@code path} as a writable device of exactly {@code sizeBytes}, creating it sparse if missing. An existing
     * file of another size is an error (its data is left untouched).
     */
    public static FileBlockDevice create(Path path, long sizeBytes, int blockSizeBytes) throws IOException {
        BlockMath.requirePowerOfTwo(blockSizeBytes, "blockSize of " + path);
        // a device holds guest data: a file this creates is private (an existing one keeps its mode)
        FileChannel channel = FileChannel.open(
                path,
                EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE),
                OWNER_ONLY);
        boolean ok = false;
        try {
            long existing = channel.size();
            if (existing == 0 && sizeBytes > 0) {
                // Extending with a single byte at the end leaves a hole: no data blocks are allocated.
                channel.write(ByteBuffer.allocate(1), sizeBytes - 1);
            } else if (existing != sizeBytes) {
                throw new IOException("could not open device file " + path + ": it holds " + existing
                        + " bytes, the device needs " + sizeBytes);
            }
            ok = true;
            return new FileBlockDevice(path, channel, sizeBytes, blockSizeBytes, true);
        } finally {
            if (!ok) {
                channel.close();
            }
        }
    }

    /** The backing file. */
    public Path path() {
        return path;
    }

    @Override
    public long sizeBytes() {
        return sizeBytes;
    }

    @Override
    public int blockSizeBytes() {
        return blockSizeBytes;
    }

    @Override
    public int read(ByteBuffer dst, long offsetBytes) throws IOException {
        int n = BlockMath.readableBytes(offsetBytes, dst.remaining(), sizeBytes, describe());
        if (n == 0) {
            return 0;
        }
        int oldLimit = dst.limit();
        dst.limit(dst.position() + n);
        try {
            long pos = offsetBytes;
            while (dst.hasRemaining()) {
                int r = channel.read(dst, pos);
                if (r < 0) {
                    // The file was truncated under us: what lies beyond reads as zeros, like a hole.
                    while (dst.hasRemaining()) {
                        dst.put((byte) 0);
                    }
                    break;
                }
                pos += r;
            }
        } catch (IOException e) {
            throw new IOException(
                    "could not read " + describe() + " at offset " + offsetBytes + ": " + e.getMessage(), e);
        } finally {
            dst.limit(oldLimit);
        }
        return n;
    }

    @Override
    public int write(ByteBuffer src, long offsetBytes) throws IOException {
        int n = src.remaining();
        if (!writable) {
            throw new IOException("could not write " + describe() + ": opened read-only");
        }
        BlockMath.checkWrite(offsetBytes, n, sizeBytes, describe());
        try {
            long pos = offsetBytes;
            while (src.hasRemaining()) {
                pos += channel.write(src, pos);
            }
        } catch (IOException e) {
            throw new IOException(
                    "could not write " + describe() + " at offset " + offsetBytes + ": " + e.getMessage(), e);
        }
        return n;
    }

    @Override
    public void flush() throws IOException {
        if (writable) {
            channel.force(false);
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private String describe() {
        return "device file " + path;
    }

    @Override
    public String toString() {
        return describe();
    }
}
