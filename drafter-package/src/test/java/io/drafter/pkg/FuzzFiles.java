package io.drafter.pkg;

import io.drafter.fuzz.FuzzCrash;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.stream.Stream;

/**
 * What the tar fuzz targets share: a work directory with a sentinel beside the output (so that a write outside it is
 * seen), and tar header checksums made right again after mutation (so that mutants get past the checksum to the
 * fields behind it; a mutant whose magic is broken keeps its checksum).
 */
public final class FuzzFiles {
    private static final byte[] SENTINEL = "written before the fuzz input\n".getBytes(StandardCharsets.UTF_8);

    private final Path base;

    private FuzzFiles(Path base) {
        this.base = base;
    }

    /** A fresh work directory under the system's temporary directory, deleted when the JVM exits. */
    public static FuzzFiles create(String prefix) {
        try {
            Path base = Files.createTempDirectory(prefix);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteQuietly(base)));
            return new FuzzFiles(base);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path base() {
        return base;
    }

    /** Empties the work directory, then lays out {@code outside/sentinel} and an empty {@code outputName}. */
    public Path reset(String outputName) throws IOException {
        try (Stream<Path> children = Files.list(base)) {
            for (Path p : children.toList()) {
                deleteRecursively(p);
            }
        }
        Files.createDirectories(base.resolve("outside"));
        Files.write(base.resolve("outside/sentinel"), SENTINEL);
        return Files.createDirectories(base.resolve(outputName));
    }

    /**
     * Fails if anything but {@code outputName}, {@code outside/sentinel} (unchanged) and {@code allowed} is in the
     * work directory.
     */
    public void checkNothingOutside(String outputName, List<String> allowed) throws IOException {
        try (Stream<Path> children = Files.list(base)) {
            for (Path p : children.toList()) {
                String n = p.getFileName().toString();
                if (!n.equals(outputName) && !n.equals("outside") && !allowed.contains(n)) {
                    throw new FuzzCrash("wrote " + n + " beside the output directory");
                }
            }
        }
        try (Stream<Path> outside = Files.list(base.resolve("outside"))) {
            List<Path> files = outside.toList();
            Path sentinel = base.resolve("outside/sentinel");
            if (files.size() != 1
                    || !Files.isRegularFile(sentinel, LinkOption.NOFOLLOW_LINKS)
                    || !java.util.Arrays.equals(Files.readAllBytes(sentinel), SENTINEL)) {
                throw new FuzzCrash("changed the directory beside the output: " + files);
            }
        }
    }

    /** {@code tar} with the checksum of every 512-byte header that has the ustar magic computed again. */
    public static byte[] fixChecksums(byte[] tar) {
        byte[] out = tar.clone();
        for (int h = 0; h + 512 <= out.length; h += 512) {
            if (out[h + 257] != 'u' || out[h + 258] != 's' || out[h + 259] != 't') {
                continue;
            }
            for (int i = 148; i < 156; i++) {
                out[h + i] = ' ';
            }
            long sum = 0;
            for (int i = 0; i < 512; i++) {
                sum += out[h + i] & 0xFF;
            }
            byte[] octal = String.format("%06o", sum & 0777777).getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(octal, 0, out, h + 148, 6);
            out[h + 154] = 0;
        }
        return out;
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                dir.toFile().setWritable(true, true); // a layer may have made it read-only
                dir.toFile().setExecutable(true, true);
                dir.toFile().setReadable(true, true);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static void deleteQuietly(Path p) {
        try {
            deleteRecursively(p);
        } catch (IOException ignored) {
            // a temporary directory
        }
    }
}
