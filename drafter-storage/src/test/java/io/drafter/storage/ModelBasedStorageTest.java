package io.drafter.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.drafter.storage.cow.CopyOnWriteDevice;
import io.drafter.storage.source.FileBlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import io.drafter.storage.source.SparseFileBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Property: any sequence of reads, writes, flushes and reopens on a device behaves like a plain byte array. Each seed
 * is one random sequence; a failure names the seed and the step, and re-running that seed replays it exactly.
 */
class ModelBasedStorageTest {
    enum Kind {
        MEMORY,
        FILE,
        SPARSE,
        COW_OVER_RANDOM_BASE,
        FULL_STACK
    }

    @TempDir
    Path dir;

    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> cases() {
        return Arrays.stream(Kind.values())
                .flatMap(k -> java.util.stream.LongStream.range(0, 12)
                        .mapToObj(seed -> org.junit.jupiter.params.provider.Arguments.of(k, seed)));
    }

    @ParameterizedTest(name = "{0} seed {1}")
    @MethodSource("cases")
    void behavesLikeAByteArray(Kind kind, long seed) throws IOException {
        Random random = new Random(seed);
        int bs = 512 << random.nextInt(4);
        long size = (long) bs * (1 + random.nextInt(40)) - (random.nextBoolean() ? random.nextInt(bs) : 0);
        byte[] model = new byte[(int) size];
        if (kind == Kind.COW_OVER_RANDOM_BASE) {
            random.nextBytes(model);
            Files.write(dir.resolve("base"), model);
        }
        BlockDevice d = open(kind, size, bs);
        try {
            for (int step = 0; step < 300; step++) {
                String where = kind + " seed " + seed + " step " + step;
                int op = random.nextInt(100);
                if (op < 45) {
                    int off = random.nextInt(model.length);
                    int len = 1 + random.nextInt(Math.min(model.length - off, 3 * bs));
                    byte[] data = new byte[len];
                    random.nextBytes(data);
                    ByteBuffer src = random.nextBoolean() ? ByteBuffer.wrap(data) : direct(data);
                    assertEquals(len, d.write(src, off), where);
                    System.arraycopy(data, 0, model, off, len);
                } else if (op < 90) {
                    int off = random.nextInt(model.length + bs);
                    int len = random.nextInt(3 * bs);
                    ByteBuffer dst = ByteBuffer.allocate(len);
                    int expected = Math.max(0, Math.min(len, model.length - off));
                    assertEquals(expected, d.read(dst, off), where);
                    assertArrayEquals(
                            Arrays.copyOfRange(
                                    model, Math.min(off, model.length), Math.min(off, model.length) + expected),
                            Arrays.copyOf(dst.array(), expected),
                            where);
                } else if (op < 95) {
                    d.flush();
                } else if (kind != Kind.MEMORY) {
                    d.flush();
                    d.close();
                    d = open(kind, size, bs);
                }
            }
            assertArrayEquals(model, BlockDeviceContractTest.readAll(d), kind + " seed " + seed + " final");
        } finally {
            d.close();
        }
    }

    private BlockDevice open(Kind kind, long size, int bs) throws IOException {
        return switch (kind) {
            case MEMORY -> new MemoryBlockDevice("model", size, bs);
            case FILE -> FileBlockDevice.create(dir.resolve("file"), size, bs);
            case SPARSE -> SparseFileBlockDevice.open(dir.resolve("sparse"), size, bs);
            case COW_OVER_RANDOM_BASE ->
                CopyOnWriteDevice.open(
                        FileBlockDevice.open(dir.resolve("base"), bs, false),
                        FileBlockDevice.create(dir.resolve("overlay"), size, bs),
                        dir.resolve("state"));
            case FULL_STACK -> FullStackTest.stack(dir, size, bs);
        };
    }

    private static ByteBuffer direct(byte[] data) {
        ByteBuffer b = ByteBuffer.allocateDirect(data.length);
        b.put(data).flip();
        return b;
    }
}
