package io.drafter.storage.source;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockDeviceContractTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class FileBlockDeviceTest extends BlockDeviceContractTest {
    @Override
    protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) throws IOException {
        return FileBlockDevice.create(
                Files.createTempFile(tempDir, "dev", ".img").resolveSibling("d" + System.nanoTime()),
                sizeBytes,
                blockSizeBytes);
    }

    @Test
    void refusesAnExistingFileOfAnotherSizeAndLeavesItAlone() throws IOException {
        Path p = tempDir.resolve("other.img");
        Files.write(p, new byte[] {9, 9, 9});
        IOException e = assertThrows(IOException.class, () -> FileBlockDevice.create(p, 4096, 4096));
        assertTrue(e.getMessage().contains("holds 3 bytes"), e.getMessage());
        assertTrue(java.util.Arrays.equals(new byte[] {9, 9, 9}, Files.readAllBytes(p)));
    }

    @Test
    void readOnlyDeviceRefusesWrites() throws IOException {
        Path p = tempDir.resolve("ro.img");
        Files.write(p, new byte[8192]);
        try (FileBlockDevice d = FileBlockDevice.open(p, 4096, false)) {
            assertThrows(IOException.class, () -> d.write(java.nio.ByteBuffer.allocate(1), 0));
        }
    }
}
