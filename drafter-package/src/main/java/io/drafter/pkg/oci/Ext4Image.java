package io.drafter.pkg.oci;

import io.drafter.linux.HelperCommand;
import io.drafter.linux.HelperCommandException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

/**
 * Makes an ext4 image file from a directory with {@code mkfs.ext4 -d} (e2fsprogs): no loop device, no
 * mount, owners/modes/links/device nodes copied by mke2fs itself. The image is sized to the directory's
 * content plus headroom, and is sparse.
 */
public final class Ext4Image {
    private static final long BLOCK = 4096;
    private static final long MIB = 1 << 20;
    /** Longest a helper command (mkfs, dpkg, chroot, apt-get) may take. */
    static final Duration RUN_TIMEOUT = Duration.ofMinutes(10);

    private Ext4Image() {}

    /**
     * Space and inodes the tree under {@code dir} needs.
     *
     * @param bytes data blocks, rounded per file to 4 KiB, plus directory blocks
     * @param inodes number of files, directories and links
     */
    record Usage(long bytes, long inodes) {}

    static Usage measure(Path dir) throws IOException {
        long[] totals = {0, 0};
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                totals[0] += BLOCK;
                totals[1]++;
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
                totals[0] += (attrs.size() + BLOCK - 1) / BLOCK * BLOCK;
                totals[1]++;
                return FileVisitResult.CONTINUE;
            }
        });
        return new Usage(totals[0], totals[1]);
    }

    /** Image size for {@code usage}: content + 25% + 64 MiB (journal, metadata, room to write), MiB-aligned. */
    static long sizeFor(Usage usage) {
        long inodeTables = usage.inodes() * 2 * 256;
        long raw = usage.bytes() + usage.bytes() / 4 + inodeTables + 64 * MIB;
        return (raw + MIB - 1) / MIB * MIB;
    }

    /**
     * Writes {@code output} as an ext4 file system labelled {@code label} holding a copy of {@code dir}.
     * The image is built beside {@code output} and renamed into place when complete.
     *
     * @throws IOException if mkfs.ext4 is missing or fails (its message is included)
     */
    public static void make(Path dir, Path output, String label) throws IOException {
        Usage usage = measure(dir);
        long size = sizeFor(usage);
        long inodes = Math.max(4096, usage.inodes() * 2);
        Path abs = output.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".partial");
        Files.deleteIfExists(tmp);
        boolean ok = false;
        try {
            // a VM's disk, like every device: private to its owner
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            try (RandomAccessFile f = new RandomAccessFile(tmp.toFile(), "rw")) {
                f.setLength(size);
            }
            run(List.of(
                    "mkfs.ext4",
                    "-q",
                    "-F",
                    "-t",
                    "ext4",
                    "-b",
                    Long.toString(BLOCK),
                    "-N",
                    Long.toString(inodes),
                    "-m",
                    "0",
                    "-L",
                    label,
                    "-d",
                    dir.toString(),
                    tmp.toString()));
            Files.move(tmp, abs, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            ok = true;
        } finally {
            if (!ok) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** Runs a command, returning its output; a non-zero exit becomes an IOException with its last lines. */
    static String run(List<String> command) throws IOException {
        return run(command, null, RUN_TIMEOUT);
    }

    /**
     * Runs {@code command} in {@code cwd} (null: ours) with no input, for at most {@code timeout}, through {@link
     * HelperCommand}, and returns its output (standard output, then standard error). Both are read while the command
     * runs, so a command that writes a lot cannot block, and the timeout bounds the whole run; on a timeout the
     * command is killed.
     *
     * @throws IOException one line: {@code could not run <program>: timed out after <timeout>}, {@code ...: not
     *     installed? (<why>)}, or for a non-zero exit the command's first words, its exit code and its last three
     *     lines of output
     */
    static String run(List<String> command, Path cwd, Duration timeout) throws IOException {
        HelperCommand helper = HelperCommand.of(command).timeout(timeout);
        if (cwd != null) {
            helper.directory(cwd);
        }
        HelperCommand.Result r;
        try {
            r = helper.run();
        } catch (HelperCommandException e) {
            String program = command.getFirst();
            throw switch (e.kind()) {
                case NOT_STARTED ->
                    new IOException("could not run " + program + ": not installed? ("
                            + (e.getCause() == null
                                    ? e.getMessage()
                                    : e.getCause().getMessage()) + ")");
                case TIMED_OUT -> new IOException("could not run " + program + ": timed out after " + timeout);
                case INTERRUPTED -> new IOException("could not run " + program + ": interrupted");
                case FAILED -> e;
            };
        }
        String out = r.stdout() + r.stderr();
        if (!r.ok()) {
            String tail = String.join(
                    " | ",
                    out.strip().lines().toList().reversed().stream()
                            .limit(3)
                            .toList()
                            .reversed());
            throw new IOException("could not run "
                    + String.join(" ", command.subList(0, Math.min(3, command.size()))) + "…: exit " + r.exitCode()
                    + ": " + tail);
        }
        return out;
    }
}
