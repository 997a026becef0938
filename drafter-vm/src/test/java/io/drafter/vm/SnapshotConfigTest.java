package io.drafter.vm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotConfigTest {
    @TempDir
    Path tmp;

    private static SnapshotConfig sample() {
        return new SnapshotConfig(
                SnapshotConfig.VERSION,
                26,
                SnapshotConfig.AGENT_CHANNEL,
                128,
                1,
                "tcg",
                "microvm",
                "console=ttyS0",
                true,
                List.of("disk", "oci"),
                "tap0",
                Network.DEFAULT_MAC,
                "None",
                "QEMU emulator version 10.0.2");
    }

    @Test
    void roundTripsThroughZeroPadding() throws Exception {
        Path f = tmp.resolve("config.json");
        sample().write(f);
        Files.write(f, new byte[1024 * 1024], StandardOpenOption.APPEND);
        assertEquals(sample(), SnapshotConfig.read(f));
        assertTrue(Files.readString(f).contains("\"agentVSockPort\" : 26"), "Drafter's field is kept");
    }

    @Test
    void badConfigsAreNamed() throws Exception {
        Path f = tmp.resolve("config.json");
        Files.writeString(f, "{\"version\":1,");
        VmException e = assertThrows(VmException.class, () -> SnapshotConfig.read(f));
        assertTrue(e.getMessage().startsWith("could not parse config " + f), e.getMessage());
        Files.writeString(f, "{\"version\":7,\"memorySizeMiB\":128,\"vcpus\":1,\"machine\":\"microvm\",\"drives\":[]}");
        e = assertThrows(VmException.class, () -> SnapshotConfig.read(f));
        assertTrue(e.getMessage().contains("version 7"), e.getMessage());
        Files.writeString(f, "{\"agentVSockPort\":26}");
        e = assertThrows(VmException.class, () -> SnapshotConfig.read(f));
        assertTrue(
                e.getMessage().contains("version 0"), "a Drafter (Firecracker) config is refused: " + e.getMessage());
        e = assertThrows(VmException.class, () -> SnapshotConfig.read(tmp.resolve("missing.json")));
        assertTrue(e.getMessage().startsWith("could not read config"), e.getMessage());
    }
}
