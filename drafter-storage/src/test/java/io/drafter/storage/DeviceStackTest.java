package io.drafter.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.config.DeviceConfigParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeviceStackTest {
    @TempDir
    Path dir;

    DeviceConfig config(String extra) {
        return DeviceConfigParser.parse(
                        "[{\"name\":\"disk\",\"base\":\"" + dir.resolve("base") + "\",\"blockSize\":4096" + extra
                                + "}]",
                        DeviceConfigParser.Use.PEER)
                .getFirst();
    }

    @Test
    void twoStackedOverlaysKeepTheBaseAndCountEverything() throws IOException {
        byte[] base = new byte[64 * 1024];
        java.util.Arrays.fill(base, (byte) 1);
        Files.write(dir.resolve("base"), base);
        String overlays = ",\"overlay\":\"" + dir.resolve("o1") + " " + dir.resolve("o2") + "\",\"state\":\""
                + dir.resolve("s1") + " " + dir.resolve("s2") + "\"";
        byte[] expected = base.clone();
        try (DeviceStack s = DeviceStack.open(config(overlays), false, 0, null)) {
            s.dirty().startTracking();
            s.top().write(ByteBuffer.wrap(new byte[] {9, 9}), 5000);
            expected[5000] = expected[5001] = 9;
            s.top().read(ByteBuffer.allocate(100), 0);
            DeviceStack.Counters c = s.counters();
            assertEquals(1, c.writes());
            assertEquals(2, c.writeBytes());
            assertEquals(1, c.reads());
            assertEquals(1, c.dirtyBlocks());
            assertArrayEquals(expected, s.readAll());
        }
        assertArrayEquals(base, Files.readAllBytes(dir.resolve("base")));
        try (DeviceStack s = DeviceStack.open(config(overlays), false, 0, null)) {
            assertArrayEquals(expected, s.readAll(), "reopened");
        }
    }

    @Test
    void withoutOverlayWritesGoToTheBase() throws IOException {
        Files.write(dir.resolve("base"), new byte[8192]);
        try (DeviceStack s = DeviceStack.open(config(""), false, 0, null)) {
            s.top().write(ByteBuffer.wrap(new byte[] {4}), 10);
        }
        assertEquals(4, Files.readAllBytes(dir.resolve("base"))[10]);
    }

    @Test
    void incomingStackCreatesTheBaseAndWaitsForBlocks() throws IOException {
        try (DeviceStack s = DeviceStack.open(config(""), true, 3 * 4096, null)) {
            assertTrue(s.waiting().isPresent());
            assertEquals(3 * 4096, Files.size(dir.resolve("base")));
            s.waiting().get().supply(1, ByteBuffer.wrap(new byte[4096]));
            assertEquals(1, s.waiting().get().presentBlockCount());
        }
    }

    @Test
    void missingBaseIsAClearError() {
        IOException e = org.junit.jupiter.api.Assertions.assertThrows(
                IOException.class, () -> DeviceStack.open(config(""), false, 0, null));
        assertTrue(e.getMessage().contains("no such regular file"), e.getMessage());
    }
}
