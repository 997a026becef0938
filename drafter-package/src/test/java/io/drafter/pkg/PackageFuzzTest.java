package io.drafter.pkg;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.github.luben.zstd.Zstd;
import io.drafter.fuzz.FuzzCrash;
import io.drafter.fuzz.FuzzRun;
import io.drafter.fuzz.FuzzTarget;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Fuzz target of package extraction ({@link Packager#extract} of devices {@code disk} and {@code memory} into a
 * temporary directory). The input is the tar (compressed here with zstd level 1, header checksums made right), or a
 * whole package if it starts with the zstd magic. Extraction succeeds with exactly the two device files, {@code 0600},
 * or fails with a {@link PackageException} of one line and leaves nothing; it never writes beside the output
 * directory.
 */
class PackageFuzzTest {
    static final List<String> DICTIONARY = List.of(
            "disk",
            "memory",
            "./",
            "../",
            "/",
            "ustar\0",
            "ustar  \0",
            "0000644\0",
            "00000001000\0",
            " path=",
            " size=",
            " linkpath=",
            " GNU.sparse.size=",
            "\n");

    private static final FuzzFiles FILES = FuzzFiles.create("package-fuzz");

    static final FuzzTarget EXTRACT = new FuzzTarget(
            "package", PackageFuzzTest::extractPackage, FuzzTarget.oneLine(PackageException.class), 32 << 20);

    static void extractPackage(byte[] input) throws IOException {
        Path out = FILES.reset("out");
        Path archive = FILES.base().resolve("package.tar.zst");
        boolean compressed = input.length >= 4 && (input[0] & 0xFF) == 0x28 && (input[1] & 0xFF) == 0xB5;
        Files.write(archive, compressed ? input : Zstd.compress(FuzzFiles.fixChecksums(input), 1));
        List<DeviceFile> devices =
                List.of(new DeviceFile("disk", out.resolve("disk")), new DeviceFile("memory", out.resolve("memory")));
        boolean extracted = false;
        try {
            Packager.extract(archive, devices, Packager.Options.defaults());
            extracted = true;
        } finally {
            FILES.checkNothingOutside("out", List.of("package.tar.zst"));
            try (Stream<Path> files = Files.list(out)) {
                List<String> names =
                        files.map(p -> p.getFileName().toString()).sorted().toList();
                if (!names.equals(extracted ? List.of("disk", "memory") : List.of())) {
                    throw new FuzzCrash("package: " + (extracted ? "extracted " : "failed and left ") + names);
                }
            }
            for (DeviceFile d : extracted ? devices : List.<DeviceFile>of()) {
                String mode = PosixFilePermissions.toString(
                        Files.getPosixFilePermissions(d.path(), LinkOption.NOFOLLOW_LINKS));
                if (!Files.isRegularFile(d.path(), LinkOption.NOFOLLOW_LINKS) || !mode.equals("rw-------")) {
                    throw new FuzzCrash("package: extracted " + d.name() + " as " + mode);
                }
            }
        }
    }

    @FuzzTest
    void extract(byte[] input) {
        EXTRACT.run(input);
    }

    @Test
    void extractShortRun() {
        System.out.println(FuzzRun.run(
                EXTRACT,
                FuzzRun.corpus(PackageFuzzTest.class, "extract"),
                DICTIONARY,
                FuzzRun.seed(),
                500,
                Duration.ofSeconds(10)));
    }
}
