package io.drafter.vm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

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
        String step = "could not read config.json at " + f + ": ";
        Files.writeString(f, "{\"version\":1,");
        VmException e = assertThrows(VmException.class, () -> SnapshotConfig.read(f));
        assertTrue(e.getMessage().startsWith(step + "not valid JSON: "), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        Files.writeString(f, "{\"version\":7,\"memorySizeMiB\":128,\"vcpus\":1,\"machine\":\"microvm\",\"drives\":[]}");
        e = assertThrows(VmException.class, () -> SnapshotConfig.read(f));
        assertTrue(e.getMessage().startsWith(step + "version 7 is not supported"), e.getMessage());
        Files.writeString(f, "{\"agentVSockPort\":26}");
        e = assertThrows(VmException.class, () -> SnapshotConfig.read(f));
        assertTrue(
                e.getMessage().contains("version 0"), "a Drafter (Firecracker) config is refused: " + e.getMessage());
        Files.writeString(f, "null");
        e = assertThrows(VmException.class, () -> SnapshotConfig.read(f));
        assertEquals(step + "the document is empty or null", e.getMessage());
        e = assertThrows(VmException.class, () -> SnapshotConfig.read(tmp.resolve("missing.json")));
        assertTrue(
                e.getMessage().startsWith("could not read config.json at " + tmp.resolve("missing.json")),
                e.getMessage());
    }

    /** One bad value per field: the field's name, the value (quoted, cut, escaped) and the rule. */
    static Stream<Arguments> badFields() {
        String shadow = "02:00:00:00:00:01,romfile=/etc/shadow";
        return Stream.of(
                Arguments.of("machine", "\"microvm,accel=kvm\"", "machine \"microvm,accel=kvm\" is not a machine"),
                Arguments.of("machine", "\"virt\"", "machine \"virt\" is not a machine"),
                Arguments.of("mac", "\"" + shadow + "\"", "mac \"" + shadow + "\" is not six hex octets"),
                Arguments.of("mac", "\"03:00:00:00:00:01\"", "mac \"03:00:00:00:00:01\" is a multicast address"),
                Arguments.of(
                        "tapInterface",
                        "\"tap0,script=/tmp/x\"",
                        "tapInterface \"tap0,script=/tmp/x\" is not an interface name"),
                Arguments.of("tapInterface", "\"tap0123456789abcd\"", "is not an interface name"),
                Arguments.of(
                        "drives",
                        "[\"disk\", \"../../etc/passwd\"]",
                        "drives[1] \"../../etc/passwd\" is not a drive name"),
                Arguments.of("drives", "[\"disk\", \"state\"]", "drives[1] \"state\" cannot be a drive"),
                Arguments.of("drives", "[\"disk\", \"disk\"]", "drives[1] \"disk\" is listed twice"),
                Arguments.of("drives", "null", "drives is missing"),
                Arguments.of("drives", "[" + "\"d\",".repeat(16) + "\"e\"]", "drives lists 17 drives, at most 16"),
                Arguments.of("accel", "\"hvf\"", "accel \"hvf\" is not kvm or tcg"),
                Arguments.of("memorySizeMiB", "8", "memorySizeMiB 8 is out of range (16 to 1048576 MiB)"),
                Arguments.of("memorySizeMiB", "2000000", "memorySizeMiB 2000000 is out of range"),
                Arguments.of("memorySizeMiB", "128.5", "not valid JSON"),
                Arguments.of("vcpus", "0", "vcpus 0 is out of range (1 to 255)"),
                Arguments.of("vcpus", "1000", "vcpus 1000 is out of range"),
                Arguments.of("vcpus", "null", "vcpus 0 is out of range"),
                Arguments.of(
                        "bootArgs",
                        "\"console=ttyS0\\n-device evil\"",
                        "bootArgs \"console=ttyS0\\u000a-device evil\" holds a control or non-ASCII character"),
                Arguments.of(
                        "bootArgs",
                        "\"" + "a".repeat(3000) + "\"",
                        "bootArgs \"" + "a".repeat(64) + "…\" is 3000 characters long, at most 2047"),
                Arguments.of("cpuTemplate", "\"T2 --evil\"", "cpuTemplate \"T2 --evil\" is not a CPU template name"),
                Arguments.of(
                        "qemuVersion",
                        "\"10.0\\u001b[31m\"",
                        "qemuVersion \"10.0\\u001b[31m\" is not a version string"),
                Arguments.of(
                        "agentChannel",
                        "\"socket:/etc\"",
                        "agentChannel \"socket:/etc\" is not virtio-serial:org.drafter.agent"),
                Arguments.of("agentVSockPort", "-1", "agentVSockPort -1 is negative"),
                Arguments.of("version", "2", "version 2 is not supported"));
    }

    @ParameterizedTest(name = "{0} = {1}")
    @MethodSource("badFields")
    void everyFieldIsCheckedAndNamed(String field, String json, String expected) throws Exception {
        Path f = tmp.resolve("config.json");
        ObjectNode node = (ObjectNode) new ObjectMapper().readTree(Files.readString(write(f)));
        node.set(field, new ObjectMapper().readTree(json));
        Files.writeString(f, node.toString());
        VmException e = assertThrows(VmException.class, () -> SnapshotConfig.read(f));
        assertTrue(e.getMessage().startsWith("could not read config.json at " + f + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), e.getMessage());
        assertTrue(e.getMessage().length() < 400, "the value is cut: " + e.getMessage());
    }

    @Test
    void configWithoutNicAndVersionedMachinesAreFine() throws Exception {
        Path f = tmp.resolve("config.json");
        for (String machine : List.of("microvm", "q35", "pc", "pc-q35-10.0", "pc-i440fx-9.2")) {
            ObjectNode node = (ObjectNode) new ObjectMapper().readTree(Files.readString(write(f)));
            node.put("machine", machine).putNull("tapInterface").putNull("mac");
            Files.writeString(f, node.toString());
            assertEquals(machine, SnapshotConfig.read(f).machine());
        }
    }

    @Test
    void aDocumentOver64KiBIsRefusedWithoutReadingTheFileWhole() throws Exception {
        Path f = tmp.resolve("config.json");
        ObjectNode node = (ObjectNode) new ObjectMapper().readTree(Files.readString(write(f)));
        node.put("padding", "x".repeat(SnapshotConfig.MAX_JSON_BYTES));
        Files.writeString(f, node.toString());
        VmException e = assertThrows(VmException.class, () -> SnapshotConfig.read(f));
        assertEquals(
                "could not read config.json at " + f + ": the JSON document is larger than 64 KiB", e.getMessage());
        // Padding (zeros) after a small document is fine however long: Drafter pads package files to 1 MiB + 1 MiB.
        write(f);
        Files.write(f, new byte[3 * 1024 * 1024], StandardOpenOption.APPEND);
        assertEquals(sample(), SnapshotConfig.read(f));
    }

    private static Path write(Path f) throws Exception {
        sample().write(f);
        return f;
    }
}
