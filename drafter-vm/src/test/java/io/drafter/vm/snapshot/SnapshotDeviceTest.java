package io.drafter.vm.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.vm.VmException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SnapshotDeviceTest {
    @Test
    void parsesDraftersDeviceList() throws Exception {
        List<SnapshotDevice> d = SnapshotDevice.parseList("""
                [{"name":"state","output":"out/package/state.bin"},
                 {"name":"kernel","input":"out/blueprint/vmlinux","output":"out/package/vmlinux"},
                 {"name":"oci","input":"out/blueprint/oci.ext4","output":"out/package/oci.ext4"}]""");
        assertEquals(3, d.size());
        assertNull(d.getFirst().input());
        assertEquals(Path.of("out/blueprint/vmlinux"), d.get(1).input());
        assertEquals("oci", d.get(2).name());
    }

    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "[{\"name\":\"disk\"}]|device disk has no output",
                "[{\"output\":\"x\"}]|entry 0 has no name",
                "[{\"name\":\"a\",\"output\":\"x\"},{\"name\":\"a\",\"output\":\"y\"}]|device a listed twice",
                "[{\"name\":\"../x\",\"output\":\"x\"}]|is not a plain word",
                "{\"name\":\"disk\"}|could not parse --devices JSON",
                "[{\"name\":|could not parse --devices JSON"
            })
    void badListsAreNamed(String json, String expected) {
        VmException e = assertThrows(VmException.class, () -> SnapshotDevice.parseList(json));
        assertTrue(e.getMessage().startsWith("could not parse --devices JSON"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    @Timeout(30)
    void longOrCrowdedListsAreRefusedWithTheLimit() {
        String padded = "[" + " ".repeat(SnapshotDevice.MAX_JSON_CHARS) + "]";
        VmException e = assertThrows(VmException.class, () -> SnapshotDevice.parseList(padded));
        assertEquals(
                "could not parse --devices JSON: 1048578 characters, more than the limit of 1048576 (1 MiB)",
                e.getMessage());
        StringBuilder many = new StringBuilder("[");
        for (int i = 0; i <= SnapshotDevice.MAX_DEVICES; i++) {
            many.append(i == 0 ? "" : ",").append("{\"name\":\"d").append(i).append("\",\"output\":\"o\"}");
        }
        VmException crowded = assertThrows(
                VmException.class,
                () -> SnapshotDevice.parseList(many.append("]").toString()));
        assertEquals("could not parse --devices JSON: 257 devices, more than the limit of 256", crowded.getMessage());
        VmException nothing = assertThrows(VmException.class, () -> SnapshotDevice.parseList("null"));
        assertEquals("could not parse --devices JSON: expected a list of devices, got null", nothing.getMessage());
    }

    @Test
    void paddingFollowsDrafter(@TempDir Path tmp) throws Exception {
        Path src = tmp.resolve("a");
        Files.write(src, new byte[1000]);
        Snapshotter.copyPadded(src, tmp.resolve("out/a"), true);
        assertEquals(2L * 1024 * 1024, Files.size(tmp.resolve("out/a")));
        Files.write(src, new byte[1024 * 1024]);
        Snapshotter.copyPadded(src, tmp.resolve("out/b"), true);
        assertEquals(2L * 1024 * 1024, Files.size(tmp.resolve("out/b")));
        Snapshotter.copyPadded(src, tmp.resolve("out/c"), false);
        assertEquals(1024L * 1024, Files.size(tmp.resolve("out/c")));
    }

    private static String mode(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    @Timeout(10)
    void outputsAreOwnerOnlyWhateverTheSourceOrAnOlderOutput(@TempDir Path tmp) throws Exception {
        Path src = Files.writeString(tmp.resolve("memory"), "guest memory");
        Files.setPosixFilePermissions(src, PosixFilePermissions.fromString("rw-rw-rw-"));
        Path out = Files.createDirectories(tmp.resolve("out"));
        Path older = Files.writeString(out.resolve("memory.bin"), "an older snapshot");
        Files.setPosixFilePermissions(older, PosixFilePermissions.fromString("rw-r--r--"));
        Snapshotter.copyPadded(src, older, true);
        assertEquals("rw-------", mode(older));
        assertEquals(2L * 1024 * 1024, Files.size(older));
        assertEquals("guest memory", new String(Files.readAllBytes(older), 0, 12, StandardCharsets.UTF_8));
        Snapshotter.copyPadded(src, out.resolve("new.bin"), false);
        assertEquals("rw-------", mode(out.resolve("new.bin")));
        try (var files = Files.list(out)) {
            assertEquals(2, files.count(), "no temporary file left");
        }

        Path work = tmp.resolve("vms/qemu/some-uuid");
        Snapshotter.createPrivateDirectory(work);
        assertEquals("rwx------", mode(work), "the work directory holds copies of every device");
    }
}
