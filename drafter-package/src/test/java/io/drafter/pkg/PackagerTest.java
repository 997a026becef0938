package io.drafter.pkg;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.luben.zstd.ZstdOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 3, unit = TimeUnit.MINUTES)
class PackagerTest {
    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    /** A sparse file of {@code size} bytes with {@code extents} random 1 MiB-ish extents, the last at the end. */
    static void sparseFile(Path path, long size, int extents, long seed) throws IOException {
        Random r = new Random(seed);
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
            f.setLength(size);
            for (int i = 0; i < extents; i++) {
                byte[] data = new byte[1 + r.nextInt(1 << 20)];
                r.nextBytes(data);
                long at = i == extents - 1 ? size - data.length : (long) (r.nextDouble() * (size - data.length));
                f.seek(at);
                f.write(data);
            }
        }
    }

    static void assertSameContent(Path expected, Path actual) throws IOException {
        assertEquals(Files.size(expected), Files.size(actual), "size of " + actual);
        try (FileChannel a = FileChannel.open(expected);
                FileChannel b = FileChannel.open(actual)) {
            ByteBuffer ba = ByteBuffer.allocateDirect(8 << 20);
            ByteBuffer bb = ByteBuffer.allocateDirect(8 << 20);
            long pos = 0;
            while (true) {
                ba.clear();
                bb.clear();
                int na = a.read(ba, pos);
                int nb = b.read(bb, pos);
                assertEquals(na, nb, "read length at " + pos);
                if (na <= 0) {
                    return;
                }
                ba.flip();
                bb.flip();
                int mismatch = ba.mismatch(bb);
                assertEquals(-1, mismatch, "first differing byte of " + actual + " at " + (pos + mismatch));
                pos += na;
            }
        }
    }

    static long allocatedBytes(Path p) throws Exception {
        Process proc = new ProcessBuilder("stat", "-c", "%b %B", p.toString()).start();
        String[] out = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8)
                .trim()
                .split(" ");
        assertEquals(0, proc.waitFor());
        return Long.parseLong(out[0]) * Long.parseLong(out[1]);
    }

    private List<Path> filesIn(Path d) throws IOException {
        if (!Files.exists(d)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(d)) {
            return s.toList();
        }
    }

    @Test
    void multiGibSparseDevicesRoundTripByteIdenticalInAnyOrder() throws Exception {
        Path src = Files.createDirectories(dir.resolve("src"));
        Path disk = src.resolve("rootfs.ext4");
        Path memory = src.resolve("memory.bin");
        Path state = src.resolve("state.bin");
        sparseFile(disk, 2 * GIB + 12345, 6, 1);
        sparseFile(memory, GIB, 4, 2);
        byte[] stateBytes = new byte[16384];
        new Random(3).nextBytes(stateBytes);
        Files.write(state, stateBytes);
        Path archive = dir.resolve("out/app.tar.zst");
        List<String> seenItems = new java.util.ArrayList<>();
        Progress recording = new Progress() {
            @Override
            public void update(String item, long doneBytes, long totalBytes) {
                if (seenItems.isEmpty() || !seenItems.getLast().equals(item)) {
                    seenItems.add(item);
                }
            }

            @Override
            public void finish() {}
        };
        Packager.pack(
                List.of(new DeviceFile("state", state), new DeviceFile("memory", memory), new DeviceFile("disk", disk)),
                archive,
                Packager.Options.defaults().withProgress(recording));
        assertEquals(List.of("state", "memory", "disk"), seenItems);
        assertTrue(Files.size(archive) < 64L << 20, "compressed size " + Files.size(archive));
        assertEquals(List.of(archive), filesIn(archive.getParent()), "no temporary file left");

        Path dst = dir.resolve("dst");
        // reverse of archive order: Drafter would report "missing device", we extract in one pass
        Packager.extract(
                archive,
                List.of(
                        new DeviceFile("disk", dst.resolve("disk.ext4")),
                        new DeviceFile("memory", dst.resolve("mem/memory.bin")),
                        new DeviceFile("state", dst.resolve("state.bin"))),
                Packager.Options.defaults());
        assertSameContent(disk, dst.resolve("disk.ext4"));
        assertSameContent(memory, dst.resolve("mem/memory.bin"));
        assertSameContent(state, dst.resolve("state.bin"));
        assertTrue(allocatedBytes(dst.resolve("disk.ext4")) < 64L << 20, "extracted disk is sparse");
        assertEquals(
                List.of(dst.resolve("disk.ext4"), dst.resolve("mem"), dst.resolve("state.bin")),
                filesIn(dst).stream().sorted().toList());
    }

    @Test
    void onlyListedDevicesAreExtracted() throws Exception {
        Path a = Files.writeString(dir.resolve("a"), "kernel bytes");
        Path b = Files.writeString(dir.resolve("b"), "disk bytes");
        Path archive = dir.resolve("p.tar.zst");
        Packager.pack(
                List.of(new DeviceFile("kernel", a), new DeviceFile("disk", b)), archive, Packager.Options.defaults());
        Path out = dir.resolve("out");
        Packager.extract(
                archive, List.of(new DeviceFile("disk", out.resolve("rootfs.ext4"))), Packager.Options.defaults());
        assertEquals(List.of(out.resolve("rootfs.ext4")), filesIn(out));
        assertEquals("disk bytes", Files.readString(out.resolve("rootfs.ext4")));
    }

    static boolean has(String... command) {
        try {
            return new ProcessBuilder(command).redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    static void run(Path cwd, String shell) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", shell)
                .directory(cwd.toFile())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), shell + ": " + out);
    }

    @Test
    void gnuTarAndZstdReadOurPackagesAndWeReadTheirs() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(
                has("tar", "--version") && has("zstd", "--version"), "needs GNU tar and zstd (apt: tar zstd)");
        Path src = Files.createDirectories(dir.resolve("src"));
        sparseFile(src.resolve("disk"), 64L << 20, 3, 7);
        Files.writeString(src.resolve("config"), "{\"agentVSockPort\":26}");
        Path ours = dir.resolve("ours.tar.zst");
        Packager.pack(
                List.of(new DeviceFile("config", src.resolve("config")), new DeviceFile("disk", src.resolve("disk"))),
                ours,
                Packager.Options.defaults());
        Path viaTar = Files.createDirectories(dir.resolve("viatar"));
        run(viaTar, "tar --zstd -xf " + ours + " && ls > ../names.txt");
        assertEquals("config\ndisk\n", Files.readString(dir.resolve("names.txt")));
        assertSameContent(src.resolve("disk"), viaTar.resolve("disk"));
        assertSameContent(src.resolve("config"), viaTar.resolve("config"));

        Path theirs = dir.resolve("theirs.tar.zst");
        run(src, "tar -cf - disk config | zstd -q -3 -o " + theirs);
        Path out = dir.resolve("out");
        Packager.extract(
                theirs,
                List.of(new DeviceFile("config", out.resolve("c.json")), new DeviceFile("disk", out.resolve("d.ext4"))),
                Packager.Options.defaults());
        assertSameContent(src.resolve("disk"), out.resolve("d.ext4"));
        assertSameContent(src.resolve("config"), out.resolve("c.json"));
    }

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void packagesAndExtractedDevicesAreOwnerOnlyWhateverTheModesSay() throws Exception {
        Path src = Files.createDirectories(dir.resolve("src"));
        Path disk = Files.writeString(src.resolve("disk"), "disk");
        Files.setPosixFilePermissions(disk, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path archive = dir.resolve("p.tar.zst");
        Files.writeString(archive, "an older, world-readable package");
        Files.setPosixFilePermissions(archive, PosixFilePermissions.fromString("rw-r--r--"));
        Packager.pack(List.of(new DeviceFile("disk", disk)), archive, Packager.Options.defaults());
        assertEquals("rw-------", mode(archive), "the package");

        // GNU tar applies the entry's mode: the package records the owner's bits only
        Process list = new ProcessBuilder("tar", "--zstd", "-tvf", archive.toString())
                .redirectErrorStream(true)
                .start();
        String listing = new String(list.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (list.waitFor() == 0) {
            assertTrue(listing.startsWith("-rwx------ "), listing);
        }

        // an archive whose entries ask for world-writable or set-uid files
        Path hostile = hostile(tar -> {
            TarArchiveEntry wide = new TarArchiveEntry("disk");
            wide.setMode(0100666);
            entry(tar, wide, new byte[] {1});
            TarArchiveEntry setuid = new TarArchiveEntry("state");
            setuid.setMode(0104777);
            entry(tar, setuid, new byte[] {2});
        });
        Path out = Files.createDirectories(dir.resolve("out"));
        Path old = Files.writeString(out.resolve("disk"), "older");
        Files.setPosixFilePermissions(old, PosixFilePermissions.fromString("rw-rw-rw-"));
        Packager.extract(
                hostile,
                List.of(new DeviceFile("disk", out.resolve("disk")), new DeviceFile("state", out.resolve("state"))),
                Packager.Options.defaults());
        assertEquals("rw-------", mode(out.resolve("disk")), "replaces a wider existing file");
        assertEquals("rw-------", mode(out.resolve("state")), "no set-uid, no execute");
        assertEquals(0100600, (int) Files.getAttribute(out.resolve("state"), "unix:mode"));
    }

    private Path smallPackage() throws IOException {
        Path src = Files.createDirectories(dir.resolve("src"));
        byte[] noise = new byte[4 << 20];
        new Random(11).nextBytes(noise);
        Files.write(src.resolve("disk"), noise);
        Files.write(src.resolve("state"), new byte[] {1, 2, 3});
        Path archive = dir.resolve("p.tar.zst");
        Packager.pack(
                List.of(new DeviceFile("state", src.resolve("state")), new DeviceFile("disk", src.resolve("disk"))),
                archive,
                Packager.Options.defaults());
        return archive;
    }

    /** Extraction into {@code out} (which holds one pre-existing file) fails and leaves it exactly as it was. */
    private PackageException assertExtractFailsCleanly(Path archive) throws IOException {
        return assertExtractFailsCleanly(archive, Files.createDirectories(dir.resolve("out")), "could not extract ");
    }

    private PackageException assertExtractFailsCleanly(Path archive, Path out, String prefix) throws IOException {
        Path old = Files.writeString(out.resolve("disk.ext4"), "previous content");
        PackageException e = assertThrows(
                PackageException.class,
                () -> Packager.extract(
                        archive,
                        List.of(
                                new DeviceFile("state", out.resolve("state.bin")),
                                new DeviceFile("disk", out.resolve("disk.ext4"))),
                        Packager.Options.defaults()));
        assertEquals(List.of(old), filesIn(out), "no output or temporary file left: " + e.getMessage());
        assertEquals("previous content", Files.readString(old));
        assertTrue(e.getMessage().startsWith(prefix), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line");
        return e;
    }

    @Test
    void corruptedArchiveFailsLoudlyAndWritesNothing() throws Exception {
        Path archive = smallPackage();
        try (FileChannel ch = FileChannel.open(archive, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long at = ch.size() / 2;
            ByteBuffer b = ByteBuffer.allocate(16);
            ch.read(b, at);
            for (int i = 0; i < 16; i++) {
                b.put(i, (byte) ~b.get(i));
            }
            b.rewind();
            ch.write(b, at);
        }
        PackageException e = assertExtractFailsCleanly(archive);
        assertTrue(e.getMessage().contains("corrupt or truncated"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.1, 0.5, 0.99})
    void truncatedArchiveFailsLoudlyAndWritesNothing(double keep) throws Exception {
        Path archive = smallPackage();
        try (FileChannel ch = FileChannel.open(archive, StandardOpenOption.WRITE)) {
            ch.truncate((long) (ch.size() * keep));
        }
        PackageException e = assertExtractFailsCleanly(archive);
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void lastBytesOfTheChecksumMatter() throws Exception {
        Path archive = smallPackage();
        try (FileChannel ch = FileChannel.open(archive, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, ch.size() - 1);
            b.put(0, (byte) (b.get(0) ^ 0x5a)).rewind();
            ch.write(b, ch.size() - 1);
        }
        assertExtractFailsCleanly(archive);
    }

    @Test
    void notAZstdStreamIsRejected() throws Exception {
        Path archive = Files.writeString(dir.resolve("p.tar.zst"), "this is not a package");
        assertExtractFailsCleanly(archive);
    }

    /** Writes a zstd-compressed tar whose entries are produced by {@code body}. */
    private Path hostile(Consumer<TarArchiveOutputStream> body) throws IOException {
        Path archive = dir.resolve("hostile.tar.zst");
        try (OutputStream f = Files.newOutputStream(archive);
                ZstdOutputStream z = new ZstdOutputStream(f);
                TarArchiveOutputStream tar = new TarArchiveOutputStream(z)) {
            body.accept(tar);
            tar.finish();
        }
        return archive;
    }

    private static void entry(TarArchiveOutputStream tar, TarArchiveEntry e, byte[] data) {
        try {
            e.setSize(data.length);
            tar.putArchiveEntry(e);
            tar.write(data);
            tar.closeArchiveEntry();
        } catch (IOException x) {
            throw new java.io.UncheckedIOException(x);
        }
    }

    @ParameterizedTest
    @ValueSource(
            strings = {"symlink", "hardlink", "chardev", "blockdev", "fifo", "dotdot", "absolute", "nested", "dir"})
    void hostileEntriesAreRefused(String kind) throws Exception {
        Path archive = hostile(tar -> {
            entry(tar, new TarArchiveEntry("state"), new byte[] {1});
            TarArchiveEntry e = switch (kind) {
                case "symlink" -> {
                    var s = new TarArchiveEntry("disk", TarArchiveEntry.LF_SYMLINK);
                    s.setLinkName("/etc/passwd");
                    yield s;
                }
                case "hardlink" -> {
                    var s = new TarArchiveEntry("disk", TarArchiveEntry.LF_LINK);
                    s.setLinkName("state");
                    yield s;
                }
                case "chardev" -> new TarArchiveEntry("disk", TarArchiveEntry.LF_CHR);
                case "blockdev" -> new TarArchiveEntry("disk", TarArchiveEntry.LF_BLK);
                case "fifo" -> new TarArchiveEntry("disk", TarArchiveEntry.LF_FIFO);
                case "dotdot" -> new TarArchiveEntry("../disk", TarArchiveEntry.LF_NORMAL, true);
                case "absolute" -> new TarArchiveEntry("/disk", TarArchiveEntry.LF_NORMAL, true);
                case "nested" -> new TarArchiveEntry("x/disk", TarArchiveEntry.LF_NORMAL, true);
                case "dir" -> new TarArchiveEntry("disk/");
                default -> throw new AssertionError(kind);
            };
            entry(tar, e, e.isFile() ? "owned".getBytes(StandardCharsets.UTF_8) : new byte[0]);
        });
        PackageException e = assertExtractFailsCleanly(archive);
        assertTrue(e.getMessage().contains("refusing entry"), e.getMessage());
    }

    /** {@code tar} compressed as a package. */
    private Path zstd(byte[] tar) throws IOException {
        Path archive = dir.resolve("hostile.tar.zst");
        try (OutputStream f = Files.newOutputStream(archive);
                ZstdOutputStream z = new ZstdOutputStream(f)) {
            z.write(tar);
        }
        return archive;
    }

    @Test
    void moreEntriesThanAPackageHasAreRefused() throws Exception {
        RawTar tar = new RawTar().file("state", "s").file("disk", "d");
        for (int i = 2; i <= DeviceFile.MAX_DEVICES; i++) {
            tar.file("extra" + i, "");
        }
        Path archive = zstd(tar.finish());
        PackageException e = assertExtractFailsCleanly(archive);
        assertEquals(
                "could not extract " + archive + ": the archive has more than 256 entries (the limit)", e.getMessage());
    }

    @Test
    void headersLargerThanTheLimitAreRefused() throws Exception {
        // 1 MiB of PAX records compresses to a few hundred bytes: the declared size is what the bound is about
        byte[] big = RawTar.filled(BoundedTarInputStream.MAX_HEADER_BYTES, 'c');
        Path archive = zstd(new RawTar()
                .file("state", "s")
                .pax('x', RawTar.record("comment", big))
                .file("disk", "d")
                .finish());
        PackageException e = assertExtractFailsCleanly(archive);
        assertEquals(
                "could not extract " + archive
                        + ": the headers of tar entry 2 (PAX records, long names) exceed the limit of 1 MiB",
                e.getMessage());
        Path longName = zstd(new RawTar()
                .entry("././@LongLink", 'L', RawTar.filled(BoundedTarInputStream.MAX_HEADER_BYTES + 1, 'n'))
                .file("disk", "d")
                .finish());
        PackageException l = assertExtractFailsCleanly(longName, Files.createDirectories(dir.resolve("out2")), "");
        assertEquals(
                "could not extract " + longName
                        + ": the headers of tar entry 1 (PAX records, long names) exceed the limit of 1 MiB",
                l.getMessage());
    }

    @Test
    void duplicateEntriesInTheArchiveAreRefused() throws Exception {
        Path archive = hostile(tar -> {
            entry(tar, new TarArchiveEntry("state"), new byte[] {1});
            entry(tar, new TarArchiveEntry("disk"), new byte[] {2});
            entry(tar, new TarArchiveEntry("disk"), new byte[] {3});
        });
        PackageException e = assertExtractFailsCleanly(archive);
        assertTrue(e.getMessage().contains("entry 'disk' appears twice"), e.getMessage());
    }

    @Test
    void missingDeviceIsNamed() throws Exception {
        Path archive = smallPackage();
        Path out = dir.resolve("out");
        PackageException e = assertThrows(
                PackageException.class,
                () -> Packager.extract(
                        archive,
                        List.of(new DeviceFile("disk", out.resolve("d")), new DeviceFile("oci", out.resolve("o"))),
                        Packager.Options.defaults()));
        assertTrue(e.getMessage().contains("missing device oci"), e.getMessage());
        assertEquals(List.of(), filesIn(out));
    }

    @Test
    void duplicateDeviceNamesAndBadNamesAreRejected() throws Exception {
        Path archive = smallPackage();
        PackageException e = assertThrows(
                PackageException.class,
                () -> Packager.extract(
                        archive,
                        List.of(new DeviceFile("disk", dir.resolve("a")), new DeviceFile("disk", dir.resolve("b"))),
                        Packager.Options.defaults()));
        assertTrue(e.getMessage().contains("duplicate device name 'disk'"), e.getMessage());
        IllegalArgumentException bad = assertThrows(
                IllegalArgumentException.class, () -> DeviceFile.parseList("[{\"name\":\"../etc\",\"path\":\"x\"}]"));
        assertTrue(bad.getMessage().contains("invalid device name '../etc'"), bad.getMessage());
        IllegalArgumentException dup = assertThrows(
                IllegalArgumentException.class,
                () -> DeviceFile.parseList("[{\"name\":\"a\",\"path\":\"x\"},{\"name\":\"a\",\"path\":\"y\"}]"));
        assertTrue(dup.getMessage().contains("duplicate device name 'a'"), dup.getMessage());
        IllegalArgumentException json = assertThrows(IllegalArgumentException.class, () -> DeviceFile.parseList("[{"));
        assertTrue(json.getMessage().startsWith("could not parse --devices: "), json.getMessage());
    }

    @Test
    void devicesJsonIsDrafters() {
        List<DeviceFile> d = DeviceFile.parseList(
                "[{\"name\":\"kernel\",\"path\":\"out/blueprint/vmlinux\"},{\"name\":\"disk\",\"path\":\"out/blueprint/rootfs.ext4\",\"extra\":1}]");
        assertEquals(
                List.of(
                        new DeviceFile("kernel", Path.of("out/blueprint/vmlinux")),
                        new DeviceFile("disk", Path.of("out/blueprint/rootfs.ext4"))),
                d);
    }

    @Test
    void longOrCrowdedDeviceListsAreRefusedWithTheLimit() {
        String padded = "[" + " ".repeat(DeviceFile.MAX_JSON_CHARS) + "]";
        assertEquals(
                "could not parse --devices: 1048578 characters of JSON, more than the limit of 1048576 (1 MiB)",
                assertThrows(IllegalArgumentException.class, () -> DeviceFile.parseList(padded))
                        .getMessage());
        StringBuilder many = new StringBuilder("[");
        for (int i = 0; i <= DeviceFile.MAX_DEVICES; i++) {
            many.append(i == 0 ? "" : ",")
                    .append("{\"name\":\"d")
                    .append(i)
                    .append("\",\"path\":\"p")
                    .append(i);
            many.append("\"}");
        }
        String crowded = many.append("]").toString();
        assertEquals(
                "could not parse --devices: 257 devices, more than the limit of 256",
                assertThrows(IllegalArgumentException.class, () -> DeviceFile.parseList(crowded))
                        .getMessage());
    }

    @Test
    void packingAMissingFileNamesItAndLeavesNoArchive() throws Exception {
        Path archive = dir.resolve("p.tar.zst");
        PackageException e = assertThrows(
                PackageException.class,
                () -> Packager.pack(
                        List.of(new DeviceFile("disk", dir.resolve("nope.ext4"))),
                        archive,
                        Packager.Options.defaults()));
        assertTrue(e.getMessage().contains("could not pack device 'disk'"), e.getMessage());
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        assertEquals(List.of(), filesIn(dir));
    }

    @Test
    void packagesCarryAZstdChecksum() throws Exception {
        Path archive = smallPackage();
        byte[] head = new byte[5];
        try (var in = Files.newInputStream(archive)) {
            assertEquals(5, in.readNBytes(head, 0, 5));
        }
        assertArrayEquals(new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd}, java.util.Arrays.copyOf(head, 4));
        assertTrue((head[4] & 0x04) != 0, "frame header descriptor has Content_Checksum_flag");
    }

    @Test
    void anUnwritableTargetIsAnOutputErrorNotCorruption() throws Exception {
        Path archive = smallPackage();
        Path blocker = Files.writeString(dir.resolve("blocker"), "a file where a directory should be");
        PackageException e = assertThrows(
                PackageException.class,
                () -> Packager.extract(
                        archive,
                        List.of(new DeviceFile("disk", blocker.resolve("sub/disk"))),
                        Packager.Options.defaults()));
        assertTrue(e.getMessage().startsWith("could not write "), e.getMessage());
        assertTrue(!e.getMessage().contains("corrupt"), e.getMessage());
    }

    /** Runs {@code body} with a 2 MiB tmpfs mounted in the test directory (root only), unmounting it after. */
    private void withSmallFileSystem(ThrowingConsumer body) throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root");
        Path small = Files.createDirectories(dir.resolve("small"));
        run(dir, "mount -t tmpfs -o size=2m drafter-test " + small);
        try {
            body.accept(small);
        } finally {
            run(dir, "umount " + small);
        }
    }

    private interface ThrowingConsumer {
        void accept(Path p) throws Exception;
    }

    @Test
    void extractingOntoAFullFileSystemIsAClearErrorAndKeepsTheOldFile() throws Exception {
        Path archive = smallPackage(); // a 4 MiB device of random bytes
        withSmallFileSystem(small -> {
            PackageException e = assertExtractFailsCleanly(archive, small, "could not write ");
            assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
        });
    }

    @Test
    void packingOntoAFullFileSystemIsAClearErrorAndLeavesNoArchive() throws Exception {
        Path src = Files.createDirectories(dir.resolve("src"));
        byte[] noise = new byte[4 << 20];
        new Random(5).nextBytes(noise);
        Files.write(src.resolve("disk"), noise);
        withSmallFileSystem(small -> {
            PackageException e = assertThrows(
                    PackageException.class,
                    () -> Packager.pack(
                            List.of(new DeviceFile("disk", src.resolve("disk"))),
                            small.resolve("p.tar.zst"),
                            Packager.Options.defaults()));
            assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
            assertTrue(!e.getMessage().contains("\n"), "one line");
            assertEquals(List.of(), filesIn(small), "no archive or temporary file left");
        });
    }

    @Test
    void entryNamesAreQuotedOnOneLineWithControlCharactersEscaped() throws Exception {
        // found by PackageFuzzTest: a PAX path with a newline made a two-line error
        Path archive = zstd(new RawTar()
                .pax('x', RawTar.record("path", "../x\ny".getBytes(StandardCharsets.UTF_8)))
                .file("ignored", "d")
                .finish());
        PackageException e = assertExtractFailsCleanly(archive);
        assertEquals(
                "could not extract " + archive + ": refusing entry '../x\\u000ay': not a plain device name (absolute"
                        + " path, '..' or '/')",
                e.getMessage());
        Path twice = zstd(new RawTar().file("a\tb", "1").file("a\tb", "2").finish());
        PackageException t = assertExtractFailsCleanly(twice, Files.createDirectories(dir.resolve("out2")), "");
        assertTrue(t.getMessage().endsWith(": entry 'a\\u0009b' appears twice in the archive"), t.getMessage());
    }
}
