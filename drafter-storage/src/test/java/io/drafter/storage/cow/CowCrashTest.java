package io.drafter.storage.cow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.storage.BlockDeviceContractTest;
import io.drafter.storage.source.FileBlockDevice;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A process writes to a copy-on-write trio and is killed with SIGKILL mid-stream; the reopened trio must hold every
 * write that a completed flush covered (bytes that later, unflushed writes touched may hold either version).
 */
class CowCrashTest {
    @TempDir
    Path dir;

    @Test
    @Timeout(120)
    void everyFlushedWriteSurvivesSigkill() throws Exception {
        long size = 2L << 20;
        byte[] base = new byte[(int) size];
        new Random(99).nextBytes(base);
        Files.write(dir.resolve("base"), base);
        long seed = 1234;
        String java = ProcessHandle.current().info().command().orElse("java");
        Process child = new ProcessBuilder(
                        java,
                        "-cp",
                        System.getProperty("java.class.path"),
                        CowCrashChild.class.getName(),
                        dir.toString(),
                        Long.toString(seed))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        long flushed = 0;
        long started = 0;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream()))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.startsWith("W ")) {
                    started = Long.parseLong(line.substring(2));
                } else if (line.startsWith("FLUSHED ")) {
                    flushed = Long.parseLong(line.substring("FLUSHED ".length()));
                    if (flushed == 40 * CowCrashChild.FLUSH_EVERY) {
                        // SIGKILL mid-stream; the handle (unlike Process) leaves the pipe open to drain.
                        child.toHandle().destroyForcibly();
                    }
                }
            }
        } finally {
            child.destroyForcibly();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
        assertTrue(flushed > 0, "child flushed before it was killed");
        assertEquals(137, child.exitValue(), "killed by SIGKILL");

        // The model after the last flush the child reported, and every byte any later write may have touched.
        byte[] model = base.clone();
        Random random = new Random(seed);
        for (long i = 1; i <= flushed; i++) {
            CowCrashChild.Op op = CowCrashChild.op(random, size);
            System.arraycopy(op.data(), 0, model, (int) op.offset(), op.data().length);
        }
        BitSet maybeNewer = new BitSet();
        for (long i = flushed + 1; i <= started; i++) {
            CowCrashChild.Op op = CowCrashChild.op(random, size);
            maybeNewer.set((int) op.offset(), (int) op.offset() + op.data().length);
        }
        try (CopyOnWriteDevice d = CopyOnWriteDevice.open(
                FileBlockDevice.open(dir.resolve("base"), CowCrashChild.BLOCK, false),
                FileBlockDevice.open(dir.resolve("overlay"), CowCrashChild.BLOCK, true),
                dir.resolve("state"))) {
            byte[] got = BlockDeviceContractTest.readAll(d);
            int checked = 0;
            for (int i = 0; i < got.length; i++) {
                if (!maybeNewer.get(i)) {
                    assertEquals(model[i], got[i], "byte " + i + " after " + flushed + " flushed writes");
                    checked++;
                }
            }
            assertTrue(checked > size / 4, "most bytes were checked: " + checked + ", writes started " + started);
        }
        assertEquals(List.of(base.length), List.of(Files.readAllBytes(dir.resolve("base")).length));
    }
}
