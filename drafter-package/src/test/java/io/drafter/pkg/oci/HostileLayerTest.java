package io.drafter.pkg.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.pkg.BoundedTarInputStream;
import io.drafter.pkg.RawTar;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
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
 * Layers built to harm the host or the unpacked image: whiteouts that name their own directory or one above it,
 * headers that declare more than a reader should hold, more entries than any image has.
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

    @Test
    void paxHeadersAboveTheLimitAreRefused() throws IOException {
        int limit = BoundedTarInputStream.MAX_HEADER_BYTES;
        // just below the limit passes: the bound is not in the way of real headers
        unpackRaw(new RawTar()
                .pax('x', RawTar.record("comment", RawTar.filled(limit - 4096, 'c')))
                .file("near", "ok")
                .finish());
        assertTrue(Files.isRegularFile(rootfs.resolve("near")));
        IOException e = assertThrows(
                IOException.class,
                () -> unpackRaw(new RawTar()
                        .file("first", "ok")
                        .pax('x', RawTar.record("comment", RawTar.filled(limit / 2, 'c')))
                        .pax('x', RawTar.record("comment", RawTar.filled(limit / 2, 'c')))
                        .file("big", "never")
                        .finish()));
        assertEquals(
                "could not unpack hostile: the headers of tar entry 2 (PAX records, long names) exceed the limit of 1 MiB",
                e.getMessage());
        assertFalse(Files.exists(rootfs.resolve("big")));
    }

    @Test
    void gnuLongNamesAboveTheLimitAreRefused() {
        byte[] name = RawTar.filled(BoundedTarInputStream.MAX_HEADER_BYTES + 1, 'n');
        IOException e = assertThrows(
                IOException.class,
                () -> unpackRaw(new RawTar()
                        .entry("././@LongLink", 'L', name)
                        .file("x", "never")
                        .finish()));
        assertEquals(
                "could not unpack hostile: the headers of tar entry 1 (PAX records, long names) exceed the limit of 1 MiB",
                e.getMessage());
    }

    @Test
    void namesLongerThanLinuxAllowsAreRefusedWithAShortMessage() {
        String name = "d/" + "n".repeat(LayerUnpacker.MAX_NAME_BYTES);
        IOException e = assertThrows(
                IOException.class,
                () -> unpackRaw(new RawTar()
                        .pax('x', RawTar.record("path", name.getBytes(StandardCharsets.UTF_8)))
                        .file("x", "never")
                        .finish()));
        assertEquals(
                "could not unpack hostile: refusing entry '" + name.substring(0, 100)
                        + "…': its name has 4098 bytes, more than the limit of 4096",
                e.getMessage());
    }

    @Test
    void longChainsOfHeadersAreRefused() {
        RawTar tar = new RawTar();
        for (int i = 0; i <= BoundedTarInputStream.MAX_HEADER_RECORDS; i++) {
            tar.pax('x', RawTar.record("comment", new byte[] {'c'}));
        }
        byte[] layer = tar.file("x", "never").finish();
        IOException e = assertThrows(IOException.class, () -> unpackRaw(layer));
        assertEquals(
                "could not unpack hostile: tar entry 1 has more than 256 header records (the limit)", e.getMessage());
    }

    @Test
    void globalPaxHeadersAreBoundedForTheWholeLayer() {
        byte[] big = RawTar.filled(BoundedTarInputStream.MAX_GLOBAL_HEADER_BYTES * 2 / 3, 'g');
        // each one is below the per-entry limit; together they would stay in memory for every later entry
        IOException e = assertThrows(
                IOException.class,
                () -> unpackRaw(new RawTar()
                        .pax('g', RawTar.record("comment", big))
                        .file("a", "ok")
                        .pax('g', RawTar.record("comment2", big))
                        .file("b", "never")
                        .finish()));
        assertEquals("could not unpack hostile: the global PAX headers exceed the limit of 1 MiB", e.getMessage());
        assertTrue(Files.isRegularFile(rootfs.resolve("a")));
        assertFalse(Files.exists(rootfs.resolve("b")));
    }

    @Test
    void entriesPerLayerAreBounded() throws IOException {
        byte[] four = new RawTar()
                .file("a", "1")
                .file("b", "2")
                .file("c", "3")
                .file("d", "4")
                .finish();
        IOException e = assertThrows(
                IOException.class,
                () -> new LayerUnpacker(rootfs, false, 3).apply(new ByteArrayInputStream(four), "hostile"));
        assertEquals("could not unpack hostile: the archive has more than 3 entries (the limit)", e.getMessage());
        new LayerUnpacker(rootfs, false, 4).apply(new ByteArrayInputStream(four), "layer");
        assertEquals(1 << 20, LayerUnpacker.MAX_ENTRIES_PER_LAYER);
    }

    @Test
    void extendedAttributesLargerThanLinuxAllowsAreRefused() {
        IOException value = assertThrows(
                IOException.class,
                () -> unpackRaw(new RawTar()
                        .pax('x', RawTar.record("SCHILY.xattr.user.big", RawTar.filled((64 << 10) + 1, 'v')))
                        .file("bad", "x")
                        .finish()));
        assertEquals(
                "could not unpack hostile: entry 'bad': extended attribute user.big has a value of 65537 bytes, more"
                        + " than the limit of 64 KiB",
                value.getMessage());
        String longName = "user." + "n".repeat(251);
        IOException name = assertThrows(
                IOException.class,
                () -> unpackRaw(new RawTar()
                        .pax('x', RawTar.record("SCHILY.xattr." + longName, new byte[] {'v'}))
                        .file("bad", "x")
                        .finish()));
        assertEquals(
                "could not unpack hostile: entry 'bad': extended attribute name of 256 bytes in PAX header "
                        + ("SCHILY.xattr." + longName).substring(0, 100) + "… exceeds the limit of 255 bytes",
                name.getMessage());
    }

    @Test
    void imageArchivesHaveTheSameBounds() throws IOException {
        Path image = Files.write(
                dir.resolve("image.tar"),
                new RawTar()
                        .pax('x', RawTar.record("comment", RawTar.filled(BoundedTarInputStream.MAX_HEADER_BYTES, 'c')))
                        .file("index.json", "{}")
                        .finish());
        IOException e = assertThrows(
                IOException.class,
                () -> OciImage.open(image, new Platform("linux", "amd64", ""), dir.resolve("scratch")));
        assertEquals(
                "could not read image " + image
                        + ": the headers of tar entry 1 (PAX records, long names) exceed the limit of 1 MiB",
                e.getMessage());
    }

    @Test
    void oversizedPasswdFilesAreRefused() throws IOException {
        Path passwd = Files.createDirectories(rootfs.resolve("etc")).resolve("passwd");
        try (RandomAccessFile f = new RandomAccessFile(passwd.toFile(), "rw")) {
            f.setLength(RuntimeBundle.MAX_TABLE_BYTES + 1); // sparse: costs no space
        }
        IOException e = assertThrows(IOException.class, () -> RuntimeBundle.resolveUser(rootfs, "app"));
        assertEquals(
                "could not resolve image user 'app': /etc/passwd of the image has 16777217 bytes, more than the limit"
                        + " of 16 MiB",
                e.getMessage());
    }

    @Test
    void namesWithANulOrControlCharactersAreRefusedOnOneLine() {
        // found by LayerFuzzTest: a NUL in a GNU long name escaped as an InvalidPathException
        IOException nul = assertThrows(
                IOException.class,
                () -> unpackRaw(new RawTar()
                        .entry("././@LongLink", 'L', "bad\0name".getBytes(StandardCharsets.UTF_8))
                        .file("ignored", "x")
                        .finish()));
        assertEquals(
                "could not unpack hostile: refusing entry 'bad\\u0000name': its name holds a NUL byte",
                nul.getMessage());
        IOException link = assertThrows(
                IOException.class,
                () -> unpackRaw(new RawTar()
                        .entry("././@LongLink", 'K', "/etc\0x".getBytes(StandardCharsets.UTF_8))
                        .entry("l", '2', new byte[0])
                        .finish()));
        assertEquals(
                "could not unpack hostile: refusing entry 'l': its link target holds a NUL byte", link.getMessage());
        IOException newline = assertThrows(
                IOException.class,
                () -> unpackRaw(new RawTar().file("a/../\nb", "x").finish()));
        assertEquals("could not unpack hostile: refusing entry 'a/../\\u000ab' (contains '..')", newline.getMessage());
    }

    @Test
    void aTarReaderErrorQuotingANameWithANewlineStaysOnOneLine() throws IOException {
        // found by LayerFuzzTest#xattrs (Jazzer): commons-compress's "Sparse blocks for <name> overlap" quotes the name
        byte[] layer;
        try (var in =
                getClass().getResourceAsStream("LayerFuzzTestInputs/xattrs/crash-sparse-error-quotes-a-newline")) {
            layer = io.drafter.pkg.FuzzFiles.fixChecksums(in.readAllBytes());
        }
        IOException e = assertThrows(IOException.class, () -> unpackRaw(layer));
        assertTrue(
                e.getMessage().startsWith("Corrupted TAR archive. Sparse blocks for ././@PaxHeader\\u000a"),
                e.getMessage());
        assertEquals(-1, e.getMessage().indexOf('\n'), e.getMessage());
    }

    private void unpackRaw(byte[] layer) throws IOException {
        new LayerUnpacker(rootfs, false).apply(new ByteArrayInputStream(layer), "hostile");
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
