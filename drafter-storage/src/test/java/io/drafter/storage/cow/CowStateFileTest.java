package io.drafter.storage.cow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.BitSet;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class CowStateFileTest {
    @TempDir
    Path dir;

    @Test
    void roundTrips() throws IOException {
        BitSet bits = new BitSet();
        bits.set(0);
        bits.set(77);
        bits.set(999);
        Path p = dir.resolve("state");
        CowStateFile.write(p, 4096, 1000, bits);
        assertEquals(bits, CowStateFile.read(p, 4096, 1000));
    }

    @Test
    void readsDraftersIndexListFormat() throws IOException {
        Path p = dir.resolve("legacy");
        ByteBuffer b =
                ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(3).putInt(9);
        Files.write(p, b.array());
        BitSet expected = new BitSet();
        expected.set(3);
        expected.set(9);
        assertEquals(expected, CowStateFile.read(p, 4096, 10));
    }

    @Test
    void everyCorruptionIsACleanError() throws IOException {
        BitSet bits = new BitSet();
        bits.set(5);
        Path p = dir.resolve("state");
        CowStateFile.write(p, 4096, 64, bits);
        byte[] good = Files.readAllBytes(p);
        Random random = new Random(11);
        for (int i = 0; i < 200; i++) {
            byte[] bad = good.clone();
            int at = random.nextInt(bad.length);
            bad[at] ^= (byte) (1 + random.nextInt(255));
            Files.write(p, bad);
            IOException e = assertThrows(IOException.class, () -> CowStateFile.read(p, 4096, 64), "flip at " + at);
            assertTrue(e.getMessage().startsWith("could not read state file"), e.getMessage());
        }
        Files.write(p, java.util.Arrays.copyOf(good, good.length - 3));
        assertThrows(IOException.class, () -> CowStateFile.read(p, 4096, 64));
        Files.write(p, good);
        IOException e = assertThrows(IOException.class, () -> CowStateFile.read(p, 4096, 65));
        assertTrue(e.getMessage().contains("describes 64 blocks"), e.getMessage());
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    @Timeout(10)
    void stateFilesAreOwnerOnlyEvenOverAWiderFileOrALeftoverTemporary() throws IOException {
        BitSet bits = new BitSet();
        bits.set(1);
        Path p = dir.resolve("state");
        CowStateFile.write(p, 4096, 10, bits);
        assertEquals("rw-------", mode(p));

        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
        Path leftover = Files.writeString(dir.resolve("state.tmp"), "left by a crash");
        Files.setPosixFilePermissions(leftover, PosixFilePermissions.fromString("rw-rw-rw-"));
        CowStateFile.write(p, 4096, 10, bits);
        assertEquals("rw-------", mode(p));
        assertEquals(bits, CowStateFile.read(p, 4096, 10));
        assertEquals(false, Files.exists(leftover));
    }
}
