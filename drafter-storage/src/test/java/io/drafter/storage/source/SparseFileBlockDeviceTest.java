package io.drafter.storage.source;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.BlockDeviceContractTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class SparseFileBlockDeviceTest extends BlockDeviceContractTest {
    @Override
    protected BlockDevice newDevice(long sizeBytes, int blockSizeBytes) throws IOException {
        return SparseFileBlockDevice.open(tempDir.resolve("s" + System.nanoTime()), sizeBytes, blockSizeBytes);
    }

    @Test
    void storesOnlyWrittenBlocksAndSurvivesReopen() throws IOException {
        Path p = tempDir.resolve("reopen.sparse");
        byte[] data = new byte[100];
        java.util.Arrays.fill(data, (byte) 5);
        try (SparseFileBlockDevice d = SparseFileBlockDevice.open(p, 1L << 30, 4096)) {
            d.write(ByteBuffer.wrap(data), 5L << 20);
            d.flush();
            assertEquals(1, d.storedBlockCount());
        }
        assertTrue(Files.size(p) < 10_000, "only one block stored");
        try (SparseFileBlockDevice d = SparseFileBlockDevice.open(p, 1L << 30, 4096)) {
            ByteBuffer got = ByteBuffer.allocate(100);
            d.read(got, 5L << 20);
            assertArrayEquals(data, got.array());
        }
    }

    @Test
    void tornAppendIsCutOffAndEarlierBlocksSurvive() throws IOException {
        Path p = tempDir.resolve("torn.sparse");
        try (SparseFileBlockDevice d = SparseFileBlockDevice.open(p, 64 * 4096, 4096)) {
            d.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 0);
            d.flush();
        }
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1000), ch.size()); // half a record, index still zero
        }
        try (SparseFileBlockDevice d = SparseFileBlockDevice.open(p, 64 * 4096, 4096)) {
            ByteBuffer got = ByteBuffer.allocate(3);
            d.read(got, 0);
            assertArrayEquals(new byte[] {1, 2, 3}, got.array());
            assertEquals(1, d.storedBlockCount());
        }
    }

    @Test
    void refusesAFileOfAnotherDeviceAndForeignFiles() throws IOException {
        Path p = tempDir.resolve("x.sparse");
        SparseFileBlockDevice.open(p, 4096 * 8, 4096).close();
        IOException e = assertThrows(IOException.class, () -> SparseFileBlockDevice.open(p, 4096 * 9, 4096));
        assertTrue(e.getMessage().contains("expected"), e.getMessage());
        Path foreign = tempDir.resolve("foreign");
        Files.write(foreign, new byte[64]);
        e = assertThrows(IOException.class, () -> SparseFileBlockDevice.open(foreign, 4096, 4096));
        assertTrue(e.getMessage().contains("bad magic"), e.getMessage());
        assertArrayEquals(new byte[64], Files.readAllBytes(foreign));
    }

    @Test
    @Timeout(10)
    void createdFilesAreOwnerOnly() throws IOException {
        Path p = tempDir.resolve("new.sparse");
        SparseFileBlockDevice.open(p, 1L << 20, 4096).close();
        assertEquals("rw-------", FileBlockDeviceTest.mode(p));
    }
}
