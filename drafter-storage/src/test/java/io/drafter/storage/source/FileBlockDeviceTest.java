package io.drafter.storage.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockDeviceContractTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

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

    static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    @Timeout(10)
    void createdFilesAreOwnerOnlyAndExistingOnesKeepTheirMode() throws IOException {
        Path p = tempDir.resolve("new.img");
        FileBlockDevice.create(p, 8192, 4096).close();
        assertEquals("rw-------", mode(p), "a device or overlay file holds guest data");
        Path shared = Files.write(tempDir.resolve("shared.img"), new byte[8192]);
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rw-r-----"));
        FileBlockDevice.create(shared, 8192, 4096).close();
        assertEquals("rw-r-----", mode(shared), "an existing file's mode is its owner's choice");
    }
}
