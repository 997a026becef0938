package io.drafter.vm.guest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.vm.testing.TestGuest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code scripts/build-guest.sh}: cached when its inputs are unchanged, byte-identical when rebuilt. */
class GuestBuildTest {
    private static final String[] OUTPUTS = {"vmlinux", "initramfs.img", "rootfs.ext4", "oci-counter.ext4"};

    static String build(Path out) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(
                        "bash",
                        TestGuest.repoRoot().resolve("scripts/build-guest.sh").toString(),
                        out.toString())
                .redirectErrorStream(true)
                .start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "build finished");
        assertEquals(0, p.exitValue(), log);
        return log;
    }

    static byte[] sha256(Path f) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 20];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return md.digest();
    }

    @Test
    @Timeout(300)
    void unchangedInputsSkipTheBuild() throws Exception {
        Path bp = TestGuest.blueprint();
        String log = build(bp);
        assertTrue(log.contains("up to date"), log);
        for (String f : OUTPUTS) {
            assertTrue(Files.size(bp.resolve(f)) > 0, f);
        }
    }

    @Test
    @Tag("slow")
    @Timeout(600)
    void twoBuildsAreByteIdentical(@TempDir Path tmp) throws Exception {
        TestGuest.blueprint();
        build(tmp.resolve("a"));
        build(tmp.resolve("b"));
        for (String f : OUTPUTS) {
            assertArrayEquals(
                    sha256(tmp.resolve("a").resolve(f)), sha256(tmp.resolve("b").resolve(f)), f);
        }
    }
}
