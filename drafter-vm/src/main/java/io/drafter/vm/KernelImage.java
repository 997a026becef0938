package io.drafter.vm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/**
 * A kernel image that carries its initramfs, so that a guest boots from the two devices Drafter's walkthrough uses
 * ({@code kernel} and {@code disk}), without an {@code initrd} device. The DrafterOS kernel (Debian's cloud kernel)
 * needs its initramfs to load the virtio drivers before it can mount its root disk.
 *
 * <p>Layout: the bzImage, zeros up to a 4 KiB boundary, the initramfs, then a 24-byte trailer:
 *
 * <pre>
 * | field  | size | meaning                                      |
 * |--------|------|----------------------------------------------|
 * | offset | 8    | u64 big-endian: where the initramfs starts    |
 * | length | 8    | u64 big-endian: its length in bytes           |
 * | magic  | 8    | "DRFTINRD"                                    |
 * </pre>
 *
 * Zeros may follow the trailer (packages pad their files). QEMU boots such an image as {@code -kernel} (its loader
 * ignores what follows the kernel); the initramfs is handed to it as {@code -initrd} from a copy.
 *
 * <p><b>Note:</b> stateless.
 */
public final class KernelImage {
    static final byte[] MAGIC = "DRFTINRD".getBytes(StandardCharsets.US_ASCII);
    static final int TRAILER_BYTES = 24;
    /** The longest run of padding zeros searched for the trailer, and the largest initramfs accepted. */
    static final long MAX_PADDING_BYTES = 64L << 20;

    static final long MAX_INITRD_BYTES = 256L << 20;

    private KernelImage() {}

    /** Writes {@code kernel} with {@code initrd} embedded to {@code out}. */
    public static void embed(Path kernel, Path initrd, Path out) throws IOException {
        long kernelBytes = Files.size(kernel);
        long offset = (kernelBytes + 4095) / 4096 * 4096;
        long initrdBytes = Files.size(initrd);
        try (FileChannel o = FileChannel.open(
                        out,
                        StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE);
                FileChannel k = FileChannel.open(kernel);
                FileChannel i = FileChannel.open(initrd)) {
            transfer(k, o, 0, kernelBytes);
            transfer(i, o, offset, initrdBytes);
            ByteBuffer trailer = ByteBuffer.allocate(TRAILER_BYTES);
            trailer.putLong(offset).putLong(initrdBytes).put(MAGIC).flip();
            o.write(trailer, offset + initrdBytes);
        }
    }

    private static void transfer(FileChannel from, FileChannel to, long at, long bytes) throws IOException {
        for (long done = 0; done < bytes; ) {
            done += from.transferTo(done, bytes - done, to.position(at + done));
        }
    }

    /**
     * Copies the initramfs embedded in {@code kernel} to {@code dest} (mode 0600), or returns empty when it has none.
     *
     * @throws IOException if a trailer is there but does not describe a range inside the file
     */
    public static Optional<Path> extractInitrd(Path kernel, Path dest) throws IOException {
        try (FileChannel k = FileChannel.open(kernel)) {
            long end = lastNonZeroEnd(k);
            if (end < TRAILER_BYTES) {
                return Optional.empty();
            }
            ByteBuffer trailer = ByteBuffer.allocate(TRAILER_BYTES);
            readFully(k, trailer, end - TRAILER_BYTES);
            trailer.flip();
            long offset = trailer.getLong();
            long length = trailer.getLong();
            byte[] magic = new byte[MAGIC.length];
            trailer.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                return Optional.empty();
            }
            long trailerAt = end - TRAILER_BYTES;
            if (offset < 512 || length <= 0 || length > MAX_INITRD_BYTES || offset > trailerAt - length) {
                throw new IOException("could not read the initramfs embedded in " + kernel + ": offset " + offset
                        + " and length " + length + " do not fit a file whose trailer is at " + trailerAt);
            }
            Files.deleteIfExists(dest);
            Files.createFile(dest, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try (FileChannel o = FileChannel.open(dest, StandardOpenOption.WRITE)) {
                for (long done = 0; done < length; ) {
                    done += k.transferTo(offset + done, length - done, o);
                }
            }
            return Optional.of(dest);
        }
    }

    /** Where the file's content ends once trailing zeros are left out (searched back at most {@link #MAX_PADDING_BYTES}). */
    private static long lastNonZeroEnd(FileChannel k) throws IOException {
        long size = k.size();
        ByteBuffer chunk = ByteBuffer.allocate(64 << 10);
        long pos = size;
        long floor = Math.max(0, size - MAX_PADDING_BYTES);
        while (pos > floor) {
            int n = (int) Math.min(chunk.capacity(), pos - floor);
            chunk.clear().limit(n);
            readFully(k, chunk, pos - n);
            for (int i = n - 1; i >= 0; i--) {
                if (chunk.get(i) != 0) {
                    return pos - n + i + 1;
                }
            }
            pos -= n;
        }
        return 0;
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long at) throws IOException {
        long pos = at;
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos);
            if (r < 0) {
                throw new IOException("could not read kernel image: it ends at " + pos);
            }
            pos += r;
        }
    }
}
