package io.drafter.pkg.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Layers built to harm the host or the unpacked image: whiteouts that name their own directory or one above it.
 * Unprivileged unpacking (no owners, no device nodes), so these run as any user.
 */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class HostileLayerTest {
    @TempDir
    Path dir;

    private Path bundle;
    private Path rootfs;

    @BeforeEach
    void bundleWithALowerLayer() throws IOException {
        bundle = Files.createDirectories(dir.resolve("bundle"));
        rootfs = Files.createDirectories(bundle.resolve("rootfs"));
        Files.writeString(bundle.resolve("config.json"), "{}");
        Files.writeString(Files.createDirectories(rootfs.resolve("sub/deeper")).resolve("keep"), "lower");
        Files.writeString(rootfs.resolve("top"), "lower");
    }

    /** Everything {@link #bundleWithALowerLayer} made is still there. */
    private void assertIntact() {
        for (Path p :
                List.of(bundle.resolve("config.json"), rootfs.resolve("sub/deeper/keep"), rootfs.resolve("top"))) {
            assertTrue(Files.isRegularFile(p), p + " survives");
        }
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                ".wh...",
                ".wh..",
                ".wh.",
                "./.wh...",
                "sub/.wh...",
                "sub/.wh..",
                "sub/.wh.",
                "sub/deeper/.wh...",
                "sub//.wh..",
                "sub/./.wh..."
            })
    void whiteoutsNamingTheirDirectoryOrAboveAreRefusedAndDeleteNothing(String name) throws IOException {
        // a lower entry first, so that a refused layer is seen to stop where it is and not half-apply
        IOException e = assertThrows(
                IOException.class, () -> unpack(file("added", "upper"), file(name, ""), file("after", "upper")));
        String target = name.substring(name.lastIndexOf('/') + 1).substring(LayerUnpacker.WHITEOUT_PREFIX.length());
        assertEquals(
                "could not unpack hostile: refusing whiteout '" + name + "': it names '" + target
                        + "', not an entry of its directory",
                e.getMessage());
        assertIntact();
        assertTrue(Files.isRegularFile(rootfs.resolve("added")));
        assertFalse(Files.exists(rootfs.resolve("after")), "nothing after the refused entry is applied");
    }

    @Test
    void ordinaryWhiteoutsAndOpaqueMarkersStillWork() throws IOException {
        Files.writeString(rootfs.resolve("gone"), "lower");
        unpack(
                file(".wh.gone", ""),
                file("sub/deeper/.wh..wh..opq", ""),
                file("sub/deeper/new", "upper"),
                file("sub/.wh.no-such-entry", ""));
        assertFalse(Files.exists(rootfs.resolve("gone")));
        assertEquals(List.of(rootfs.resolve("sub/deeper/new")), list(rootfs.resolve("sub/deeper")));
        assertTrue(Files.isRegularFile(bundle.resolve("config.json")));
        assertTrue(Files.isRegularFile(rootfs.resolve("top")));
    }

    @Test
    void anOpaqueMarkerAtTheTopEmptiesOnlyTheRootfs() throws IOException {
        unpack(file(".wh..wh..opq", ""), file("new", "upper"));
        assertEquals(List.of(rootfs.resolve("new")), list(rootfs));
        assertTrue(Files.isRegularFile(bundle.resolve("config.json")), "the bundle beside the rootfs is untouched");
    }

    private static List<Path> list(Path d) throws IOException {
        try (var s = Files.list(d)) {
            return s.sorted().toList();
        }
    }

    private void unpack(Entry... entries) throws IOException {
        new LayerUnpacker(rootfs, false).apply(new ByteArrayInputStream(tar(entries)), "hostile");
    }

    /** A regular file entry of a test layer. */
    record Entry(String name, String content) {}

    private static Entry file(String name, String content) {
        return new Entry(name, content);
    }

    static byte[] tar(Entry... entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            for (Entry f : entries) {
                byte[] content = f.content().getBytes(StandardCharsets.UTF_8);
                TarArchiveEntry e = new TarArchiveEntry(f.name(), TarArchiveEntry.LF_NORMAL, true);
                e.setSize(content.length);
                tar.putArchiveEntry(e);
                tar.write(content);
                tar.closeArchiveEntry();
            }
        }
        return bytes.toByteArray();
    }
}
