package io.drafter.storage.cow;

import io.drafter.storage.source.FileBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.EnumSet;
import java.util.zip.CRC32C;

/**
 * The state file of a copy-on-write device: which blocks live in the overlay.
 *
 * <p>Format (little-endian), version 1:
 *
 * <pre>
 * offset  size  field
 *      0     4  magic "DCOW" (0x574F4344 read as LE u32)
 *      4     2  version = 1
 *      6     2  reserved = 0
 *      8     4  blockSizeBytes
 *     12     8  blockCount
 *     20     4  bitmapBytes = ceil(blockCount / 8)
 *     24     n  bitmap, bit i of byte j = block 8*j + i
 *   24+n     4  CRC32C of bytes [0, 24+n)
 * </pre>
 *
 * <p>Files without the magic are read as Drafter/Silo's format, a plain sequence of u32 LE block indices. Writing
 * goes to a temporary file that is synced and then renamed over the old one, so a crash leaves either the old or the
 * new state, never a torn one. State files are created {@code 0600}.
 */
public final class CowStateFile {
    static final int MAGIC = 0x574F4344;
    static final short VERSION = 1;
    static final int HEADER_BYTES = 24;
    /** Decoding refuses bitmaps above this size (2^34 blocks): a corrupt length must not size an allocation. */
    static final long MAX_BITMAP_BYTES = 1L << 31;

    private CowStateFile() {}

    /** Reads the blocks recorded in {@code path}, or none if it does not exist or is empty. */
    public static BitSet read(Path path, int blockSizeBytes, long blockCount) throws IOException {
        if (!Files.exists(path)) {
            return new BitSet();
        }
        long fileBytes = Files.size(path);
        if (fileBytes == 0) {
            return new BitSet();
        }
        if (fileBytes > MAX_BITMAP_BYTES + HEADER_BYTES + 4) {
            throw corrupt(path, "it is " + fileBytes + " bytes, more than any state file");
        }
        ByteBuffer buf = ByteBuffer.wrap(Files.readAllBytes(path)).order(ByteOrder.LITTLE_ENDIAN);
        if (buf.remaining() >= 4 && buf.getInt(0) == MAGIC) {
            return readVersioned(path, buf, blockSizeBytes, blockCount);
        }
        return readIndexList(path, buf, blockCount);
    }

    private static BitSet readVersioned(Path path, ByteBuffer buf, int blockSizeBytes, long blockCount)
            throws IOException {
        if (buf.remaining() < HEADER_BYTES + 4) {
            throw corrupt(path, "truncated header");
        }
        int version = Short.toUnsignedInt(buf.getShort(4));
        if (version != VERSION) {
            throw corrupt(path, "unsupported version " + version + " (this build reads " + VERSION + ")");
        }
        int fileBlockSize = buf.getInt(8);
        long fileBlockCount = buf.getLong(12);
        long bitmapBytes = Integer.toUnsignedLong(buf.getInt(20));
        if (fileBlockSize != blockSizeBytes || fileBlockCount != blockCount) {
            throw corrupt(
                    path,
                    "it describes " + fileBlockCount + " blocks of " + fileBlockSize + " bytes, the device has "
                            + blockCount + " blocks of " + blockSizeBytes);
        }
        if (bitmapBytes != (blockCount + 7) / 8 || buf.remaining() != HEADER_BYTES + bitmapBytes + 4) {
            throw corrupt(path, "length " + buf.remaining() + " does not match " + blockCount + " blocks");
        }
        CRC32C crc = new CRC32C();
        crc.update(buf.array(), 0, (int) (HEADER_BYTES + bitmapBytes));
        int stored = buf.getInt((int) (HEADER_BYTES + bitmapBytes));
        if ((int) crc.getValue() != stored) {
            throw corrupt(path, "checksum mismatch");
        }
        byte[] bitmap = new byte[(int) bitmapBytes];
        buf.get(HEADER_BYTES, bitmap);
        return BitSet.valueOf(bitmap);
    }

    private static BitSet readIndexList(Path path, ByteBuffer buf, long blockCount) throws IOException {
        if (buf.remaining() % 4 != 0) {
            throw corrupt(path, "neither a versioned state file nor a list of u32 block indices");
        }
        BitSet out = new BitSet();
        while (buf.hasRemaining()) {
            long block = Integer.toUnsignedLong(buf.getInt());
            if (block >= blockCount) {
                throw corrupt(path, "block index " + block + " is past the device's " + blockCount + " blocks");
            }
            out.set((int) block);
        }
        return out;
    }

    /** Atomically replaces {@code path} with a state file recording {@code blocks}. */
    public static void write(Path path, int blockSizeBytes, long blockCount, BitSet blocks) throws IOException {
        int bitmapBytes = (int) ((blockCount + 7) / 8);
        ByteBuffer buf = ByteBuffer.allocate(HEADER_BYTES + bitmapBytes + 4).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(MAGIC)
                .putShort(VERSION)
                .putShort((short) 0)
                .putInt(blockSizeBytes)
                .putLong(blockCount);
        buf.putInt(bitmapBytes);
        byte[] bits = blocks.toByteArray();
        buf.put(bits, 0, Math.min(bits.length, bitmapBytes));
        CRC32C crc = new CRC32C();
        crc.update(buf.array(), 0, HEADER_BYTES + bitmapBytes);
        buf.putInt(HEADER_BYTES + bitmapBytes, (int) crc.getValue());
        buf.clear();
        Path dir = path.toAbsolutePath().getParent();
        Path tmp = dir.resolve(path.getFileName() + ".tmp");
        // a fresh private file: one left by a crash may have another mode, and the rename gives tmp's mode to path
        Files.deleteIfExists(tmp);
        try (FileChannel ch = FileChannel.open(
                tmp, EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), FileBlockDevice.OWNER_ONLY)) {
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        } catch (IOException e) {
            throw new IOException("could not write state file " + tmp + ": " + e.getMessage(), e);
        }
        Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    private static IOException corrupt(Path path, String why) {
        return new IOException("could not read state file " + path + ": " + why);
    }
}
