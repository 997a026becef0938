package io.drafter.pkg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 1, unit = TimeUnit.MINUTES)
class DirectWriterTest {
    private static final int CHUNK = 64 << 10;
    private static final Path FULL = Path.of("/dev/full");

    @TempDir
    Path dir;

    @Test
    void unalignedWritesAndTailsRoundTripAndAlignedOnesGoDirect() throws Exception {
        Random r = new Random(7);
        byte[] expected = new byte[(5 * CHUNK) + 1234];
        r.nextBytes(expected);
        Path p = dir.resolve("f");
        try (DirectWriter w = new DirectWriter(p, CHUNK, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            assertTrue(w.isDirect(), "O_DIRECT on " + dir + " (ext4 or tmpfs here)");
            int pos = 0;
            while (pos < expected.length) {
                // aligned chunks, odd lengths at aligned offsets, and writes at odd offsets
                int len = Math.min(expected.length - pos, pos % 3 == 0 ? CHUNK : 1 + r.nextInt(CHUNK));
                w.write(expected, pos, len, pos);
                pos += len;
            }
            assertTrue(w.isDirect(), "a real file system never refuses after the first write");
            w.setLength(expected.length);
            w.force();
        }
        assertArrayEquals(expected, Files.readAllBytes(p));
    }

    @Test
    void skippedRangesStayHoles() throws Exception {
        Path p = dir.resolve("sparse");
        byte[] chunk = new byte[CHUNK];
        new Random(1).nextBytes(chunk);
        long size = 256L << 20;
        try (DirectWriter w = new DirectWriter(p, CHUNK, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            w.write(chunk, 0, CHUNK, 0);
            w.write(chunk, 0, 100, 128L << 20); // a short tail in the middle, through the page cache
            w.setLength(size);
            w.force();
        }
        assertEquals(size, Files.size(p));
        assertTrue(PackagerTest.allocatedBytes(p) < 1 << 20, "allocated " + PackagerTest.allocatedBytes(p));
    }

    @Test
    void aFileThatRefusesODirectIsWrittenBufferedAndItsErrorsReported() throws Exception {
        // /dev/full refuses O_DIRECT at open (EINVAL) and every write with ENOSPC
        try (DirectWriter w = new DirectWriter(FULL, CHUNK, StandardOpenOption.WRITE)) {
            assertFalse(w.isDirect());
            IOException e = assertThrows(IOException.class, () -> w.write(new byte[CHUNK], 0, CHUNK, 0));
            assertTrue(e.getMessage().contains("No space left"), e.getMessage());
        }
    }

    @Test
    void theStreamWritesEverythingOnClose() throws Exception {
        byte[] expected = new byte[3 * CHUNK + 17];
        new Random(3).nextBytes(expected);
        Path p = dir.resolve("stream");
        try (OutputStream out =
                new DirectOutputStream(p, CHUNK, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            out.write(expected, 0, 10);
            out.write(expected[10]);
            out.write(expected, 11, expected.length - 11);
            out.flush(); // a no-op: nothing is lost by flushing early or not at all
        }
        assertArrayEquals(expected, Files.readAllBytes(p));
    }

    @Test
    void writeBehindWritesManyMoreChunksThanItHasBuffers() throws Exception {
        Path p = dir.resolve("behind");
        Random r = new Random(11);
        byte[] expected = new byte[40 * CHUNK];
        r.nextBytes(expected);
        try (DirectWriter w = new DirectWriter(p, CHUNK, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                WriteBehind behind = new WriteBehind(w, CHUNK, 2)) {
            for (int c = 0; c < 40; c++) {
                byte[] b = behind.buffer();
                System.arraycopy(expected, c * CHUNK, b, 0, CHUNK);
                if (c % 5 == 4) {
                    behind.recycle(b); // left as a hole
                    java.util.Arrays.fill(expected, c * CHUNK, (c + 1) * CHUNK, (byte) 0);
                } else {
                    behind.submit(b, CHUNK, (long) c * CHUNK);
                }
            }
            behind.finish();
            w.setLength(expected.length);
            w.force();
        }
        assertArrayEquals(expected, Files.readAllBytes(p));
    }

    @Test
    void writeBehindReportsTheFirstErrorInsteadOfHanging() throws Exception {
        try (DirectWriter w = new DirectWriter(FULL, CHUNK, StandardOpenOption.WRITE);
                WriteBehind behind = new WriteBehind(w, CHUNK, 2)) {
            IOException e = assertThrows(IOException.class, () -> {
                for (int c = 0; c < 100; c++) {
                    behind.submit(behind.buffer(), CHUNK, (long) c * CHUNK);
                }
                behind.finish();
            });
            assertTrue(e.getMessage().contains("No space left"), e.getMessage());
            assertThrows(IOException.class, behind::finish, "the error stays reported");
        }
    }

    @Test
    void writeBehindReportsAnUnexpectedFailureOfItsThread() throws Exception {
        Path p = dir.resolve("bad");
        try (DirectWriter w = new DirectWriter(p, CHUNK, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                WriteBehind behind = new WriteBehind(w, CHUNK, 1)) {
            behind.submit(behind.buffer(), CHUNK, -CHUNK); // FileChannel throws IllegalArgumentException
            IOException e = assertThrows(IOException.class, () -> {
                for (int c = 0; c < 10; c++) {
                    behind.submit(behind.buffer(), CHUNK, (long) c * CHUNK);
                }
                behind.finish();
            });
            assertTrue(e.getMessage().contains("IllegalArgumentException"), e.getMessage());
        }
    }
}
