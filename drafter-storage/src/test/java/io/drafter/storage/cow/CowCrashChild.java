package io.drafter.storage.cow;

import io.drafter.storage.source.FileBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

/**
 * The process {@link CowCrashTest} kills: writes a seeded sequence to a copy-on-write trio, flushing every few writes
 * and printing {@code FLUSHED <n>} once writes {@code 1..n} are durable, and {@code W <i>} before it starts write
 * {@code i}. It never stops by itself.
 */
public final class CowCrashChild {
    static final int BLOCK = 4096;
    static final int FLUSH_EVERY = 7;

    /** Write number {@code i} of the sequence: where it goes and what it writes. */
    record Op(long offset, byte[] data) {}

    static Op op(Random random, long size) {
        int len = 1 + random.nextInt(3 * BLOCK);
        long off = (long) (random.nextDouble() * (size - len));
        byte[] data = new byte[len];
        random.nextBytes(data);
        return new Op(off, data);
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        CopyOnWriteDeviceCrashSupport.run(dir, seed);
    }

    /** Kept apart from main so the test can share the op generator. */
    static final class CopyOnWriteDeviceCrashSupport {
        static void run(Path dir, long seed) throws IOException {
            Path base = dir.resolve("base");
            long size = java.nio.file.Files.size(base);
            CopyOnWriteDevice d = CopyOnWriteDevice.open(
                    FileBlockDevice.open(base, BLOCK, false),
                    FileBlockDevice.create(dir.resolve("overlay"), size, BLOCK),
                    dir.resolve("state"));
            Random random = new Random(seed);
            for (long i = 1; ; i++) {
                Op op = op(random, size);
                System.out.println("W " + i);
                System.out.flush();
                d.write(ByteBuffer.wrap(op.data()), op.offset());
                if (i % FLUSH_EVERY == 0) {
                    d.flush();
                    System.out.println("FLUSHED " + i);
                    System.out.flush();
                }
            }
        }
    }
}
