package io.drafter.pkg.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 1, unit = TimeUnit.MINUTES)
class Ext4ImageRunTest {
    @TempDir
    Path dir;

    @Test
    void outputLargerThanAPipeIsReturnedWhole() throws Exception {
        // 1 MiB on stdout and stderr: more than a pipe holds, so a pipe read after waitFor would block
        String out = Ext4Image.run(List.of(
                "sh", "-c", "head -c 1048576 /dev/zero | tr '\\0' a; head -c 1048576 /dev/zero | tr '\\0' b >&2"));
        assertEquals(2 << 20, out.length());
    }

    @Test
    void aCommandThatRunsTooLongIsKilledAndNamed() {
        long t0 = System.nanoTime();
        IOException e = assertThrows(
                IOException.class, () -> Ext4Image.run(List.of("sleep", "30"), null, Duration.ofMillis(300)));
        assertEquals("could not run sleep: timed out after PT0.3S", e.getMessage());
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20), "killed, not waited for");
    }

    @Test
    void aFailingCommandReportsItsExitAndLastLines() {
        IOException e = assertThrows(
                IOException.class, () -> Ext4Image.run(List.of("sh", "-c", "echo one; echo two >&2; exit 3")));
        assertEquals("could not run sh -c echo one; echo two >&2; exit 3…: exit 3: one | two", e.getMessage());
    }

    @Test
    void aMissingProgramIsNamed() {
        IOException e = assertThrows(IOException.class, () -> Ext4Image.run(List.of("no-such-program-drafter")));
        assertTrue(e.getMessage().startsWith("could not run no-such-program-drafter: not installed?"), e.getMessage());
    }

    @Test
    void runsInTheGivenDirectoryWithNoInput() throws Exception {
        assertEquals(dir.toRealPath() + "\n", Ext4Image.run(List.of("pwd"), dir, Duration.ofSeconds(30)));
        assertEquals("", Ext4Image.run(List.of("cat"), dir, Duration.ofSeconds(30)));
    }
}
