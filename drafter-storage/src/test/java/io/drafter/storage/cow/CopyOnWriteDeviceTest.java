package io.drafter.storage.cow;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockDeviceContractTest;
import io.drafter.storage.source.FileBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CopyOnWriteDeviceTest extends BlockDeviceContractTest {
    @Override
    protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) throws IOException {
        Path dir = Files.createTempDirectory(tempDir, "cow");
        Path base = dir.resolve("base");
        Files.write(base, new byte[(int) sizeBytes]);
        return CopyOnWriteDevice.open(
                FileBlockDevice.open(base, blockSizeBytes, false),
                FileBlockDevice.create(dir.resolve("overlay"), sizeBytes, blockSizeBytes),
                dir.resolve("state"));
    }

    /** Opens the trio in {@code dir}, creating an overlay if needed. */
    static CopyOnWriteDevice openTrio(Path dir, int bs) throws IOException {
        Path base = dir.resolve("base");
        return CopyOnWriteDevice.open(
                FileBlockDevice.open(base, bs, false),
                FileBlockDevice.create(dir.resolve("overlay"), Files.size(base), bs),
                dir.resolve("state"));
    }

    @Test
    void neverWritesTheBaseAndPartialWritesKeepTheRestOfTheBlock() throws IOException {
        byte[] baseBytes = new byte[8 * 4096];
        new Random(3).nextBytes(baseBytes);
        Files.write(tempDir.resolve("base"), baseBytes);
        byte[] expected = baseBytes.clone();
        try (CopyOnWriteDevice d = openTrio(tempDir, 4096)) {
            d.write(ByteBuffer.wrap(new byte[] {7, 7, 7}), 4096 + 10);
            expected[4096 + 10] = expected[4096 + 11] = expected[4096 + 12] = 7;
            assertTrue(d.inOverlay(1));
            assertFalse(d.inOverlay(0));
            assertArrayEquals(expected, readAll(d));
        }
        assertArrayEquals(baseBytes, Files.readAllBytes(tempDir.resolve("base")));
        try (CopyOnWriteDevice d = openTrio(tempDir, 4096)) {
            assertArrayEquals(expected, readAll(d), "reopened trio shows the same data");
        }
    }

    @Test
    void stateWithoutFlushIsNotTrustedButFlushedStateIs() throws IOException {
        Files.write(tempDir.resolve("base"), new byte[4 * 4096]);
        CopyOnWriteDevice d = openTrio(tempDir, 4096);
        d.write(ByteBuffer.wrap(new byte[] {1}), 0);
        d.flush();
        d.write(ByteBuffer.wrap(new byte[] {2}), 3 * 4096);
        // no flush, no close: as after a crash, only the flushed block is recorded
        BlockDevice reopened = CopyOnWriteDevice.open(
                FileBlockDevice.open(tempDir.resolve("base"), 4096, false),
                FileBlockDevice.open(tempDir.resolve("overlay"), 4096, true),
                tempDir.resolve("state"));
        byte[] all = readAll(reopened);
        assertEquals(1, all[0]);
        assertEquals(0, all[3 * 4096]);
        reopened.close();
        d.close();
    }

    @Test
    void refusesAnOverlayOfAnotherSize() throws IOException {
        Files.write(tempDir.resolve("base"), new byte[4 * 4096]);
        Files.write(tempDir.resolve("overlay"), new byte[5 * 4096]);
        IOException e = assertThrows(
                IOException.class,
                () -> CopyOnWriteDevice.open(
                        FileBlockDevice.open(tempDir.resolve("base"), 4096, false),
                        FileBlockDevice.open(tempDir.resolve("overlay"), 4096, true),
                        tempDir.resolve("state")));
        assertTrue(e.getMessage().contains("sizes differ"), e.getMessage());
    }
}
