package io.drafter.pkg.oci;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.drafter.fuzz.FuzzRun;
import io.drafter.fuzz.FuzzTarget;
import io.drafter.pkg.FuzzFiles;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.junit.jupiter.api.Test;

/**
 * Fuzz targets of OCI layers: {@code unpack} applies the input as a layer ({@link LayerUnpacker}, unprivileged) over a
 * small lower layer in a temporary root, and checks that nothing beside the root changed; {@code xattrs} reads the
 * input with {@link XattrTarInputStream} and asks every entry for its extended attributes. Both refuse only with an
 * {@link IOException} of one line. Header checksums are made right after mutation.
 *
 * <p>The unpacker runs as the test does, root in CI: it resolves every path inside the root, which is what this target
 * checks; should that break, a mutant could reach the host's files, so the lower layer and the corpus point their
 * links only at the directory beside the root or at a path that does not exist.
 */
class LayerFuzzTest {
    static final List<String> DICTIONARY = List.of(
            ".wh.",
            ".wh..wh..opq",
            "../",
            "/",
            "./",
            "ustar\0",
            " path=",
            " linkpath=",
            " SCHILY.xattr.user.",
            " LIBARCHIVE.xattr.user.",
            " SCHILY.xattr.security.capability=",
            "%",
            "=",
            "\n",
            "etc/",
            "bin");

    private static final FuzzFiles FILES = FuzzFiles.create("layer-fuzz");

    static final FuzzTarget UNPACK =
            new FuzzTarget("oci-layer", LayerFuzzTest::unpackLayer, FuzzTarget.oneLine(IOException.class), 32 << 20);

    static final FuzzTarget XATTRS =
            new FuzzTarget("pax-xattrs", LayerFuzzTest::readXattrs, FuzzTarget.oneLine(IOException.class), 16 << 20);

    static void unpackLayer(byte[] layer) throws IOException {
        Path root = FILES.reset("rootfs");
        Files.createDirectories(root.resolve("etc/ssl"));
        Files.writeString(root.resolve("etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
        Files.createDirectories(root.resolve("usr/bin"));
        Files.createSymbolicLink(root.resolve("bin"), Path.of("usr/bin"));
        Files.createSymbolicLink(root.resolve("up"), Path.of("../outside"));
        Files.createDirectories(root.resolve("lower"));
        Files.writeString(root.resolve("lower/gone"), "lower layer");
        try {
            new LayerUnpacker(root, false, 1000)
                    .apply(new ByteArrayInputStream(FuzzFiles.fixChecksums(layer)), "fuzz layer");
        } finally {
            FILES.checkNothingOutside("rootfs", List.of());
        }
    }

    static void readXattrs(byte[] tar) throws IOException {
        try (XattrTarInputStream in =
                new XattrTarInputStream(new ByteArrayInputStream(FuzzFiles.fixChecksums(tar)), 1000)) {
            TarArchiveEntry e;
            while ((e = in.getNextEntry()) != null) {
                in.xattrs(e);
                in.transferTo(OutputStream.nullOutputStream());
            }
        }
    }

    @FuzzTest
    void unpack(byte[] layer) {
        UNPACK.run(layer);
    }

    @FuzzTest
    void xattrs(byte[] tar) {
        XATTRS.run(tar);
    }

    @Test
    void unpackShortRun() {
        System.out.println(FuzzRun.run(
                UNPACK,
                FuzzRun.corpus(LayerFuzzTest.class, "unpack"),
                DICTIONARY,
                FuzzRun.seed(),
                400,
                Duration.ofSeconds(10)));
    }

    @Test
    void xattrsShortRun() {
        System.out.println(FuzzRun.run(
                XATTRS,
                FuzzRun.corpus(LayerFuzzTest.class, "xattrs"),
                DICTIONARY,
                FuzzRun.seed(),
                5_000,
                Duration.ofSeconds(5)));
    }
}
