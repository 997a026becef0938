package io.drafter.storage.source;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockMath;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A device that stores only the blocks ever written, appended to one file: Silo's "sparsefile" source, for file
 * systems without holes or when the written set is much smaller than the device. Never-written blocks read as zeros.
 *
 * <p>Format (little-endian): a 32-byte header, then records of {@code [u64 block+1][blockSizeBytes data]}. The
 * index is stored plus one so that a record whose index never reached the disk (zero) is recognised and skipped.
 *
 * <pre>
 * offset  size  field
 *      0     4  magic "DSPF" (0x46505344 as LE u32)
 *      4     2  version = 1
 *      6     2  reserved
 *      8     4  blockSizeBytes
 *     12     4  reserved
 *     16     8  sizeBytes
 *     24     8  reserved
 * </pre>
 *
 * Opening scans the records to rebuild the block index; a torn last record (a crash mid-append) is cut off.
 *
 * <p><b>Note:</b> thread-safe; a block's first write takes a striped lock to allocate its record once.
 */
public final class SparseFileBlockDevice implements BlockDevice {
    static final int MAGIC = 0x46505344;
    static final int HEADER_BYTES = 32;
    private static final int LOCK_STRIPES = 64;

    private final Path path;
    private final FileChannel channel;
    private final long sizeBytes;
    private final int blockSizeBytes;
    private final ConcurrentHashMap<Long, Long> dataOffsetByBlock = new ConcurrentHashMap<>();
    private final AtomicLong appendAt;
    private final ReentrantLock[] stripes = new ReentrantLock[LOCK_STRIPES];

    private SparseFileBlockDevice(Path path, FileChannel channel, long sizeBytes, int blockSizeBytes, long appendAt) {
        this.path = path;
        this.channel = channel;
        this.sizeBytes = sizeBytes;
        this.blockSizeBytes = blockSizeBytes;
        this.appendAt = new AtomicLong(appendAt);
        for (int i = 0; i < stripes.length; i++) {
            stripes[i] = new ReentrantLock();
        }
    }

    /** Opens {@code path}, creating it if missing; an existing file must describe the same size and block size. */
    public static SparseFileBlockDevice open(Path path, long sizeBytes, int blockSizeBytes) throws IOException {
        BlockMath.requirePowerOfTwo(blockSizeBytes, "blockSize of " + path);
        FileChannel ch = FileChannel.open(
                path,
                EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE),
                FileBlockDevice.OWNER_ONLY);
        boolean ok = false;
        try {
            SparseFileBlockDevice d;
            if (ch.size() == 0) {
                ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                h.putInt(MAGIC)
                        .putShort((short) 1)
                        .putShort((short) 0)
                        .putInt(blockSizeBytes)
                        .putInt(0);
                h.putLong(sizeBytes).putLong(0).flip();
                ch.write(h, 0);
                ch.force(true);
                d = new SparseFileBlockDevice(path, ch, sizeBytes, blockSizeBytes, HEADER_BYTES);
            } else {
                d = scan(path, ch, sizeBytes, blockSizeBytes);
            }
            ok = true;
            return d;
        } finally {
            if (!ok) {
                ch.close();
            }
        }
    }

    private static SparseFileBlockDevice scan(Path path, FileChannel ch, long sizeBytes, int blockSizeBytes)
            throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, h, 0);
        h.flip();
        if (h.remaining() < HEADER_BYTES || h.getInt(0) != MAGIC) {
            throw new IOException(
                    "could not open sparse device file " + path + ": not a sparse device file (bad magic)");
        }
        if (h.getShort(4) != 1) {
            throw new IOException(
                    "could not open sparse device file " + path + ": unsupported version " + h.getShort(4));
        }
        if (h.getInt(8) != blockSizeBytes || h.getLong(16) != sizeBytes) {
            throw new IOException("could not open sparse device file " + path + ": it holds a device of "
                    + h.getLong(16) + " bytes in blocks of " + h.getInt(8) + ", expected " + sizeBytes
                    + " in blocks of " + blockSizeBytes);
        }
        long recordBytes = 8L + blockSizeBytes;
        long fileBytes = ch.size();
        long whole = (fileBytes - HEADER_BYTES) / recordBytes;
        long end = HEADER_BYTES + whole * recordBytes;
        SparseFileBlockDevice d = new SparseFileBlockDevice(path, ch, sizeBytes, blockSizeBytes, end);
        ByteBuffer idx = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        long blocks = BlockMath.blockCount(sizeBytes, blockSizeBytes);
        for (long rec = HEADER_BYTES; rec < end; rec += recordBytes) {
            idx.clear();
            readFully(ch, idx, rec);
            long block = idx.getLong(0) - 1;
            if (block == -1) {
                continue; // the index of this record never reached the disk: its first write was not flushed
            }
            if (block < 0 || block >= blocks) {
                throw new IOException("could not open sparse device file " + path + ": record at " + rec
                        + " names block " + block + ", past the device's " + blocks);
            }
            d.dataOffsetByBlock.put(block, rec + 8);
        }
        if (end != fileBytes) {
            ch.truncate(end); // a torn append from a crash: its write never completed, so nothing flushed is lost
        }
        return d;
    }

    /** The number of blocks stored. */
    public long storedBlockCount() {
        return dataOffsetByBlock.size();
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
        int oldLimit = dst.limit();
        long pos = offsetBytes;
        long end = offsetBytes + n;
        try {
            while (pos < end) {
                long block = pos / blockSizeBytes;
                int within = (int) (pos - block * blockSizeBytes);
                int len = (int) Math.min(end - pos, blockSizeBytes - within);
                dst.limit(dst.position() + len);
                Long data = dataOffsetByBlock.get(block);
                if (data == null) {
                    while (dst.hasRemaining()) {
                        dst.put((byte) 0);
                    }
                } else {
                    readFully(channel, dst, data + within);
                }
                pos += len;
            }
        } finally {
            dst.limit(oldLimit);
        }
        return n;
    }

    @Override
    public int write(ByteBuffer src, long offsetBytes) throws IOException {
        int n = src.remaining();
        BlockMath.checkWrite(offsetBytes, n, sizeBytes, describe());
        int oldLimit = src.limit();
        long pos = offsetBytes;
        long end = offsetBytes + n;
        try {
            while (pos < end) {
                long block = pos / blockSizeBytes;
                int within = (int) (pos - block * blockSizeBytes);
                int len = (int) Math.min(end - pos, blockSizeBytes - within);
                src.limit(src.position() + len);
                long data = dataOffsetFor(block);
                writeFully(channel, src, data + within);
                pos += len;
            }
        } finally {
            src.limit(oldLimit);
        }
        return n;
    }

    /** The data offset of {@code block}, appending a zero-filled record for it on its first write. */
    private long dataOffsetFor(long block) throws IOException {
        Long existing = dataOffsetByBlock.get(block);
        if (existing != null) {
            return existing;
        }
        ReentrantLock lock = stripes[(int) (block % LOCK_STRIPES)];
        lock.lock();
        try {
            existing = dataOffsetByBlock.get(block);
            if (existing != null) {
                return existing;
            }
            long rec = appendAt.getAndAdd(8L + blockSizeBytes);
            ByteBuffer header =
                    ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, block + 1);
            // Data first, then the index: a torn record is cut off at the next open.
            writeFully(channel, ByteBuffer.allocate(blockSizeBytes), rec + 8);
            writeFully(channel, header, rec);
            dataOffsetByBlock.put(block, rec + 8);
            return rec + 8;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void flush() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
        while (dst.hasRemaining()) {
            int r = ch.read(dst, pos);
            if (r < 0) {
                while (dst.hasRemaining()) {
                    dst.put((byte) 0);
                }
                return;
            }
            pos += r;
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer src, long pos) throws IOException {
        while (src.hasRemaining()) {
            pos += ch.write(src, pos);
        }
    }

    private String describe() {
        return "sparse device file " + path;
    }

    @Override
    public String toString() {
        return describe();
    }
}
