package io.drafter.vm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class KernelImageTest {
    @TempDir
    Path tmp;

    byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        b[n - 1] = 1; // a kernel does not end in zeros here; the initramfs copy must not depend on it
        return b;
    }

    @Test
    void anEmbeddedInitramfsComesBackByteForByteAlsoAfterPackagePadding() throws IOException {
        byte[] kernel = random(1_000_001, 1);
        byte[] initrd = random(300_007, 2);
        Path k = Files.write(tmp.resolve("bzImage"), kernel);
        Path i = Files.write(tmp.resolve("initramfs.img"), initrd);
        Path image = tmp.resolve("vmlinux");
        KernelImage.embed(k, i, image);
        byte[] head = new byte[kernel.length];
        System.arraycopy(Files.readAllBytes(image), 0, head, 0, head.length);
        assertArrayEquals(kernel, head, "the kernel comes first, unchanged");
        // A package pads its files with zeros (Drafter: to a MiB boundary plus a MiB).
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), Files.size(image) + (3 << 20));
        }
        Path out = KernelImage.extractInitrd(image, tmp.resolve("out.img")).orElseThrow();
        assertArrayEquals(initrd, Files.readAllBytes(out));
        assertEquals(
                "rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(out)));
    }

    @Test
    void aPlainKernelHasNone() throws IOException {
        Path k = Files.write(tmp.resolve("bzImage"), random(100_000, 3));
        assertTrue(KernelImage.extractInitrd(k, tmp.resolve("out.img")).isEmpty());
        Path zeros = Files.write(tmp.resolve("zeros"), new byte[4096]);
        assertTrue(KernelImage.extractInitrd(zeros, tmp.resolve("out.img")).isEmpty());
    }

    @Test
    void aTrailerPointingOutsideTheFileIsAClearError() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4096 + KernelImage.TRAILER_BYTES);
        b.position(4096).putLong(1 << 20).putLong(1 << 30).put(KernelImage.MAGIC);
        Path k = Files.write(tmp.resolve("hostile"), b.array());
        IOException e = assertThrows(IOException.class, () -> KernelImage.extractInitrd(k, tmp.resolve("out.img")));
        assertTrue(e.getMessage().startsWith("could not read the initramfs embedded in " + k), e.getMessage());
    }
}
