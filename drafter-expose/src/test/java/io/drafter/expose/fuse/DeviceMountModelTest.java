package io.drafter.expose.fuse;

import static io.drafter.expose.fuse.FuseTestSupport.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Seeded random sequences of reads, writes and fsyncs at unaligned offsets through a mount, checked against a byte
 * array model after every step and against the device at the end. A failure names the seed and the step.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DeviceMountModelTest {
    private static final int SIZE = 3 * (1 << 20) + 1234; // not a multiple of the page or block size

    @TempDir
    Path tmp;

    @BeforeEach
    void setUp() throws IOException {
        assumeFuse();
    }

    @AfterEach
    void noMountsLeft() throws IOException {
        assertNoMountsUnder(tmp);
    }

    @ParameterizedTest(name = "seed={0} directIo={1}")
    @CsvSource({"1,true", "2,true", "3,false", "4,false"})
    void randomReadsAndWritesMatchTheModel(long seed, boolean directIo) throws IOException {
        Random random = new Random(seed);
        byte[] model = new byte[SIZE];
        try (MemoryBlockDevice device = new MemoryBlockDevice("disk", SIZE, 4096);
                DeviceMount mount = DeviceMount.mount(
                        tmp.resolve("mnt"),
                        Map.of("disk", device),
                        FuseOptions.defaults().withDirectIo(directIo));
                FileChannel file =
                        FileChannel.open(mount.file("disk"), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            assertEquals(SIZE, Files.size(mount.file("disk")));
            for (int step = 0; step < 300; step++) {
                String where = "seed " + seed + " step " + step;
                long offset = random.nextInt(SIZE + 100);
                int length = random.nextInt(4) == 0 ? random.nextInt(1 << 20) : random.nextInt(20_000);
                switch (random.nextInt(5)) {
                    case 0, 1 -> {
                        byte[] data = new byte[length];
                        random.nextBytes(data);
                        int fits = (int) Math.max(0, Math.min(length, SIZE - offset));
                        if (fits < length) {
                            data = Arrays.copyOf(data, fits); // writing past the end fails: stay inside
                        }
                        ByteBuffer src = ByteBuffer.wrap(data);
                        while (src.hasRemaining()) {
                            file.write(src, offset + src.position());
                        }
                        System.arraycopy(data, 0, model, (int) Math.min(offset, SIZE), data.length);
                    }
                    case 2, 3 -> {
                        ByteBuffer dst = ByteBuffer.allocate(length);
                        int n = 0;
                        while (dst.hasRemaining()) {
                            int r = file.read(dst, offset + n);
                            if (r < 0) {
                                break;
                            }
                            n += r;
                        }
                        int expected = (int) Math.max(0, Math.min(length, SIZE - offset));
                        assertEquals(expected, n, where + ": bytes read at " + offset);
                        assertArrayEquals(
                                Arrays.copyOfRange(
                                        model, (int) Math.min(offset, SIZE), (int) Math.min(offset, SIZE) + n),
                                Arrays.copyOf(dst.array(), n),
                                where + ": bytes at " + offset);
                    }
                    default -> file.force(false);
                }
            }
            file.force(false);
            assertArrayEquals(model, contents(device), "seed " + seed + ": the device after fsync");
        }
    }
}
