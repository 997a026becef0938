package io.drafter.migration.testing;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.dirty.DirtyTrackingDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Random;

/** Devices with known contents, and their digests. */
public final class TestDevices {
    private TestDevices() {}

    /** A memory device of random bytes (every {@code zeroEvery}-th block left zero, 0 = none). */
    public static MemoryBlockDevice random(String name, long size, int blockSize, long seed, int zeroEvery)
            throws IOException {
        MemoryBlockDevice d = new MemoryBlockDevice(name, size, blockSize);
        Random r = new Random(seed);
        byte[] buf = new byte[blockSize];
        for (long b = 0; b < d.blockCount(); b++) {
            if (zeroEvery > 0 && b % zeroEvery == 0) {
                continue;
            }
            int len = (int) Math.min(blockSize, size - b * blockSize);
            r.nextBytes(buf);
            d.write(ByteBuffer.wrap(buf, 0, len), b * blockSize);
        }
        return d;
    }

    /** A tracking layer over a random device. */
    public static DirtyTrackingDevice tracked(String name, long size, int blockSize, long seed) throws IOException {
        return new DirtyTrackingDevice(random(name, size, blockSize, seed, 7));
    }

    /** The SHA-256 of every byte of {@code d}, hex. */
    public static String sha256(BlockDevice d) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            long off = 0;
            while (off < d.sizeBytes()) {
                buf.clear();
                int n = d.read(buf, off);
                if (n <= 0) {
                    throw new IOException("short read at " + off);
                }
                md.update(buf.array(), 0, n);
                off += n;
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The bytes of one block. */
    public static byte[] block(BlockDevice d, long block) throws IOException {
        int bs = d.blockSizeBytes();
        int len = (int) Math.min(bs, d.sizeBytes() - block * bs);
        ByteBuffer buf = ByteBuffer.allocate(len);
        d.read(buf, block * bs);
        return buf.array();
    }
}
