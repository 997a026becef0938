package io.drafter.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The behaviour every {@link BlockDevice} and every layer stack must show. Subclasses say how to make one.
 *
 * <p>A device made by {@link #newDevice} starts zero-filled.
 */
public abstract class BlockDeviceContractTest {
    protected static final int BLOCK = 4096;

    @TempDir
    protected Path tempDir;

    protected BlockDevice device;

    /** A new zero-filled device of {@code sizeBytes} with blocks of {@code blockSizeBytes}. */
    protected abstract BlockDevice newDevice(long sizeBytes, int blockSizeBytes) throws IOException;

    @BeforeEach
    void open() throws IOException {
        device = newDevice(10 * BLOCK + 123, BLOCK);
    }

    @AfterEach
    void closeDevice() throws IOException {
        device.close();
    }

    @Test
    void reportsSizeAndBlocks() {
        assertEquals(10 * BLOCK + 123, device.sizeBytes());
        assertEquals(BLOCK, device.blockSizeBytes());
        assertEquals(11, device.blockCount());
    }

    @Test
    void startsZeroFilled() throws IOException {
        byte[] all = readAll(device);
        assertArrayEquals(new byte[all.length], all);
    }

    @Test
    void readsBackWhatWasWrittenAtAnyAlignment() throws IOException {
        Random random = new Random(1);
        byte[] model = new byte[(int) device.sizeBytes()];
        for (int i = 0; i < 200; i++) {
            int off = random.nextInt(model.length);
            int len = 1 + random.nextInt(Math.min(3 * BLOCK, model.length - off));
            byte[] data = new byte[len];
            random.nextBytes(data);
            assertEquals(len, device.write(ByteBuffer.wrap(data), off));
            System.arraycopy(data, 0, model, off, len);
        }
        assertArrayEquals(model, readAll(device));
        int off = BLOCK - 7;
        ByteBuffer direct = ByteBuffer.allocateDirect(2 * BLOCK + 11);
        assertEquals(direct.capacity(), device.read(direct, off));
        direct.flip();
        byte[] got = new byte[direct.remaining()];
        direct.get(got);
        assertArrayEquals(java.util.Arrays.copyOfRange(model, off, off + got.length), got);
    }

    @Test
    void readsAreTruncatedAtTheEnd() throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(1000);
        assertEquals(123, device.read(buf, 10 * BLOCK));
        assertEquals(123, buf.position());
        assertEquals(0, device.read(ByteBuffer.allocate(10), device.sizeBytes()));
        assertEquals(0, device.read(ByteBuffer.allocate(10), device.sizeBytes() + 5000));
    }

    @Test
    void writesOutsideTheDeviceFailAndChangeNothing() throws IOException {
        ByteBuffer data = ByteBuffer.wrap(new byte[200]);
        java.util.Arrays.fill(data.array(), (byte) 7);
        IOException e = assertThrows(IOException.class, () -> device.write(data, device.sizeBytes() - 100));
        assertEquals(true, e.getMessage().contains("outside"), e.getMessage());
        assertThrows(IOException.class, () -> device.write(ByteBuffer.allocate(1), -1));
        assertArrayEquals(new byte[(int) device.sizeBytes()], readAll(device));
    }

    @Test
    void flushKeepsData() throws IOException {
        device.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 5000);
        device.flush();
        ByteBuffer buf = ByteBuffer.allocate(3);
        device.read(buf, 5000);
        assertArrayEquals(new byte[] {1, 2, 3}, buf.array());
    }

    @Test
    void closeIsIdempotent() throws IOException {
        device.close();
        device.close();
    }

    /** Reads a whole device into an array. */
    public static byte[] readAll(BlockDevice device) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) device.sizeBytes());
        int n = device.read(buf, 0);
        assertEquals(device.sizeBytes(), n);
        return buf.array();
    }
}
