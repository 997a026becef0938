package io.drafter.expose.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.linux.MountTable;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/** Prerequisites and helpers shared by the FUSE system tests. */
final class FuseTestSupport {
    private FuseTestSupport() {}

    /** Skips the test (with the reason) unless it runs as root with {@code /dev/fuse}. */
    static void assumeFuse() throws IOException {
        assumeTrue(Files.exists(Path.of("/dev/fuse")), "needs /dev/fuse (FUSE not available here)");
        int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        assumeTrue(uid == 0, "needs root to mount FUSE (running as uid " + uid + ")");
    }

    static void assumePython() {
        assumeTrue(Processes.onPath("python3"), "needs python3 on the PATH as the other process");
    }

    /** A memory device of {@code sizeBytes} filled with seeded random bytes. */
    static MemoryBlockDevice randomDevice(String name, long sizeBytes, long seed) throws IOException {
        MemoryBlockDevice d = new MemoryBlockDevice(name, sizeBytes, 4096);
        Random r = new Random(seed);
        byte[] chunk = new byte[1 << 20];
        for (long off = 0; off < sizeBytes; off += chunk.length) {
            r.nextBytes(chunk);
            d.write(ByteBuffer.wrap(chunk, 0, (int) Math.min(chunk.length, sizeBytes - off)), off);
        }
        return d;
    }

    static byte[] contents(BlockDevice d) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(d.sizeBytes()));
        d.read(b, 0);
        return b.array();
    }

    static byte[] range(BlockDevice d, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        d.read(b, offset);
        return b.array();
    }

    /** Our FUSE mounts anywhere in this mount namespace. */
    static List<MountTable.Entry> ourMounts() throws IOException {
        return MountTable.read().stream()
                .filter(e -> e.fsType().equals(DeviceMount.FS_TYPE))
                .toList();
    }

    static void assertNoMountsUnder(Path dir) throws IOException {
        String prefix = dir.toRealPath().toString();
        assertEquals(
                List.of(),
                ourMounts().stream()
                        .filter(e -> e.mountPoint().startsWith(prefix))
                        .toList(),
                "FUSE mounts left behind");
    }

    static String hex(byte[] b) {
        return java.util.HexFormat.of().formatHex(b);
    }

    static String sha256(byte[] b) {
        try {
            return hex(java.security.MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
