package io.drafter.pkg;

import com.github.luben.zstd.ZstdInputStream;
import io.drafter.linux.Libc;
import io.drafter.linux.LinuxException;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Packs devices into a Drafter package and extracts them again.
 *
 * <p>The format is Drafter's (drafter-spec §4.1): a Zstandard stream holding a POSIX tar with one
 * regular-file entry per device, named by the device name, in the order of the device list. We add a
 * zstd content checksum (verified on extraction) and PAX headers only where a size needs them, so
 * {@code tar --zstd -xf} and Drafter read our packages and we read theirs.
 *
 * <p>Both directions stream: memory use is a few MiB whatever the device sizes. Packing reads only the
 * data extents of sparse files ({@code SEEK_DATA}/{@code SEEK_HOLE}); extraction writes sparse files
 * (zero blocks become holes). Extraction is all-or-nothing: each device is written to a temporary file
 * beside its target and renamed into place only after the whole archive, checksum included, has been
 * read; on any error the temporary files are removed. Packages and extracted devices are created {@code 0600}
 * whatever the modes of the source files or archive entries, which never widen them. Not thread-safe; one call
 * per thread.
 */
public final class Packager {
    /** Zstandard level used by default (zstd's own default). */
    public static final int DEFAULT_LEVEL = 3;

    private static final int CHUNK_BYTES = 1 << 20;
    private static final int TAR_BLOCK_BYTES = 64 << 10;
    private static final byte[] ZEROS = new byte[CHUNK_BYTES];
    private static final int WRITE_BEHIND_BUFFERS = 4;
    /**
     * Packages and extracted devices hold guest memory and disks: created {@code rw-------} (a stricter umask
     * narrows it further), whatever mode the source file or the archive entry has.
     */
    static final FileAttribute<Set<PosixFilePermission>> OWNER_ONLY = PosixFilePermissions.asFileAttribute(
            EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE));

    /**
     * How to pack or extract.
     *
     * @param compressionLevel zstd level, 1..19 (packing only)
     * @param workers zstd worker threads for packing; 0 = compress on the calling thread, 1 (default) = one
     *     compression thread beside the reading one, like {@code tar | zstd -T1}
     * @param progress progress receiver
     */
    public record Options(int compressionLevel, int workers, Progress progress) {
        public Options {
            if (compressionLevel < 1 || compressionLevel > 19) {
                throw new IllegalArgumentException("compression level must be 1..19, got " + compressionLevel);
            }
            if (workers < 0) {
                throw new IllegalArgumentException("workers must be >= 0, got " + workers);
            }
        }

        /** Level 3, one compression thread, no progress. */
        public static Options defaults() {
            return new Options(DEFAULT_LEVEL, 1, Progress.NONE);
        }

        public Options withProgress(Progress p) {
            return new Options(compressionLevel, workers, p);
        }
    }

    private Packager() {}

    /**
     * Writes {@code devices} into the package {@code archive} (replaced atomically when complete).
     *
     * @throws PackageException naming the device or file that could not be read or written
     */
    public static void pack(List<DeviceFile> devices, Path archive, Options options) throws IOException {
        try {
            DeviceFile.checkUnique(devices);
        } catch (IllegalArgumentException e) {
            throw new PackageException("could not pack " + archive + ": " + e.getMessage());
        }
        long total = 0;
        for (DeviceFile d : devices) {
            if (!Files.isRegularFile(d.path())) {
                throw new PackageException("could not pack device '" + d.name() + "': " + d.path()
                        + (Files.exists(d.path()) ? " is not a regular file" : " does not exist"));
            }
            total += Files.size(d.path());
        }
        Path parent = archive.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = temporarySibling(archive);
        boolean done = false;
        try {
            DirectOutputStream file; // written past the page cache where possible, and fsynced when closed
            try {
                file = new DirectOutputStream(
                        tmp, CHUNK_BYTES, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw outputFailure(archive, e);
            }
            try (file;
                    // zero runs (holes) become prepared zero frames instead of being compressed
                    OutputStream zstd = new ZeroRunZstdOutputStream(
                            file, options.compressionLevel(), options.workers(), TAR_BLOCK_BYTES);
                    // tar blocks of 64 KiB instead of 512 B: fewer copies, whole zero blocks recognisable
                    // (the end is zero-padded to 64 KiB, which tar readers ignore)
                    TarArchiveOutputStream tar = new TarArchiveOutputStream(zstd, TAR_BLOCK_BYTES)) {
                tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                long[] done0 = {0};
                for (DeviceFile d : devices) {
                    try {
                        writeEntry(tar, d, options.progress(), done0, total);
                    } catch (PackageException e) {
                        throw e;
                    } catch (IOException e) {
                        if (file.failed()) {
                            throw outputFailure(archive, e);
                        }
                        throw new PackageException(
                                "could not pack device '" + d.name() + "' (" + d.path() + ") into " + archive + ": "
                                        + describe(e),
                                e);
                    }
                }
                tar.finish();
            } catch (PackageException e) {
                throw e;
            } catch (IOException e) {
                throw outputFailure(archive, e); // finishing or closing the archive: only the output is left
            }
            moveIntoPlace(tmp, archive);
            done = true;
        } finally {
            options.progress().finish();
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private static void writeEntry(TarArchiveOutputStream tar, DeviceFile d, Progress progress, long[] done, long total)
            throws IOException {
        Path path = d.path();
        Map<String, Object> attrs = Files.readAttributes(path, "unix:mode,uid,gid,size,lastModifiedTime");
        long size = (long) attrs.get("size");
        TarArchiveEntry entry = new TarArchiveEntry(d.name(), TarArchiveEntry.LF_NORMAL, true);
        entry.setSize(size);
        // the owner's bits only: GNU tar extracting the package makes private files too, as we do
        entry.setMode(TarArchiveEntry.DEFAULT_FILE_MODE & ~0777 | ((int) attrs.get("mode") & 0700));
        entry.setModTime((FileTime) attrs.get("lastModifiedTime"));
        entry.setUserId((int) attrs.get("uid"));
        entry.setGroupId((int) attrs.get("gid"));
        tar.putArchiveEntry(entry);
        byte[] buf = new byte[CHUNK_BYTES];
        ByteBuffer bb = ByteBuffer.wrap(buf);
        int fd;
        try {
            fd = Libc.open(path.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        } catch (LinuxException e) {
            throw new IOException(e.shortMessage(), e);
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long pos = 0;
            while (pos < size) {
                long data = dataStart(fd, pos, path);
                long dataStart = data < 0 || data > size ? size : data;
                // the hole before the next data: zeros, not read from the file
                while (pos < dataStart) {
                    int n = (int) Math.min(CHUNK_BYTES, dataStart - pos);
                    tar.write(ZEROS, 0, n);
                    pos += n;
                    done[0] += n;
                    progress.update(d.name(), done[0], total);
                }
                if (pos >= size) {
                    break;
                }
                long dataEnd = Math.min(size, holeStart(fd, pos, path, size));
                while (pos < dataEnd) {
                    int n = (int) Math.min(CHUNK_BYTES, dataEnd - pos);
                    bb.clear().limit(n);
                    while (bb.hasRemaining()) {
                        if (ch.read(bb, pos + bb.position()) < 0) {
                            throw new PackageException("could not pack device '" + d.name() + "': " + path
                                    + " shrank while being read (at offset " + (pos + bb.position()) + ")");
                        }
                    }
                    tar.write(buf, 0, n);
                    pos += n;
                    done[0] += n;
                    progress.update(d.name(), done[0], total);
                }
            }
        } finally {
            try {
                Libc.close(fd);
            } catch (LinuxException e) {
                // a read-only descriptor: nothing was lost
            }
        }
        tar.closeArchiveEntry();
    }

    /** Next data offset at or after {@code pos}, -1 if none; the file's start when holes are not reported. */
    private static long dataStart(int fd, long pos, Path path) throws IOException {
        try {
            return Libc.seek(fd, pos, Libc.SEEK_DATA, path.toString());
        } catch (IOException e) {
            return pos; // file system without SEEK_DATA: treat everything as data
        }
    }

    private static long holeStart(int fd, long pos, Path path, long size) throws IOException {
        try {
            long h = Libc.seek(fd, pos, Libc.SEEK_HOLE, path.toString());
            return h < 0 ? size : h;
        } catch (IOException e) {
            return size;
        }
    }

    /**
     * Extracts the listed devices from {@code archive} to their paths. The list may name entries in any
     * order; entries not listed are skipped (but must still be plain files with safe names). Either every
     * listed device is written, or none is (and no temporary file is left).
     *
     * @throws PackageException for a missing or duplicate entry, a hostile entry, a corrupt or truncated
     *     archive, or an I/O error; the message names the entry or file
     */
    public static void extract(Path archive, List<DeviceFile> devices, Options options) throws IOException {
        try {
            DeviceFile.checkUnique(devices);
        } catch (IllegalArgumentException e) {
            throw new PackageException("could not extract " + archive + ": " + e.getMessage());
        }
        if (!Files.isRegularFile(archive)) {
            throw new PackageException("could not extract " + archive + ": "
                    + (Files.exists(archive) ? "not a regular file" : "no such file"));
        }
        Map<String, DeviceFile> wanted = new LinkedHashMap<>();
        for (DeviceFile d : devices) {
            wanted.put(d.name(), d);
        }
        Map<String, Path> written = new HashMap<>();
        long archiveSize = Files.size(archive);
        boolean done = false;
        try (CountingInputStream counted = new CountingInputStream(Files.newInputStream(archive));
                InputStream zstd = new ZstdInputStream(counted);
                // a package holds one entry per device: more is not a package, and each costs memory here
                TarArchiveInputStream tar = new BoundedTarInputStream(zstd, DeviceFile.MAX_DEVICES)) {
            Set<String> seen = new HashSet<>();
            TarArchiveEntry entry;
            while ((entry = nextEntry(tar, archive)) != null) {
                String name = checkEntry(entry, archive);
                if (!seen.add(name)) {
                    throw new PackageException("could not extract " + archive + ": entry '"
                            + BoundedTarInputStream.printable(name) + "' appears twice in the archive");
                }
                DeviceFile target = wanted.get(name);
                if (target == null) {
                    continue;
                }
                Path tmp = createTemporaryFor(target.path());
                written.put(name, tmp);
                writeSparse(tar, entry, tmp, archive, options.progress(), counted, archiveSize);
            }
            // read to the end of the zstd frame so that its checksum is verified, and reject trailing garbage
            drain(zstd, archive);
            List<String> missing = new ArrayList<>();
            for (String name : wanted.keySet()) {
                if (!written.containsKey(name)) {
                    missing.add(name);
                }
            }
            if (!missing.isEmpty()) {
                throw new PackageException("could not extract " + archive + ": missing device"
                        + (missing.size() > 1 ? "s " : " ") + String.join(", ", missing) + " (entries present: "
                        + String.join(
                                ", ",
                                seen.stream()
                                        .map(BoundedTarInputStream::printable)
                                        .toList()) + ")");
            }
            for (DeviceFile d : devices) {
                moveIntoPlace(written.get(d.name()), d.path());
                written.remove(d.name());
            }
            done = true;
        } catch (PackageException e) {
            throw e;
        } catch (IOException e) {
            throw new PackageException(
                    "could not extract " + archive + ": corrupt or truncated package (" + describe(e) + ")", e);
        } finally {
            options.progress().finish();
            if (!done) {
                for (Path tmp : written.values()) {
                    Files.deleteIfExists(tmp);
                }
            }
        }
    }

    private static TarArchiveEntry nextEntry(TarArchiveInputStream tar, Path archive) throws IOException {
        try {
            return tar.getNextEntry();
        } catch (BoundedTarInputStream.LimitException e) {
            throw new PackageException("could not extract " + archive + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new PackageException("could not extract " + archive + ": malformed tar header (" + describe(e) + ")");
        }
    }

    /** Returns the device name of a safe entry; throws for anything that is not a plain regular file. */
    private static String checkEntry(TarArchiveEntry entry, Path archive) throws PackageException {
        String name = entry.getName().startsWith("./") ? entry.getName().substring(2) : entry.getName();
        String raw = BoundedTarInputStream.printable(entry.getName());
        String kind = entry.isSymbolicLink()
                ? "a symbolic link"
                : entry.isLink()
                        ? "a hard link"
                        : entry.isCharacterDevice() || entry.isBlockDevice()
                                ? "a device file"
                                : entry.isFIFO() ? "a FIFO" : entry.isDirectory() ? "a directory" : null;
        if (kind == null && !entry.isFile()) {
            kind = "of tar type '" + BoundedTarInputStream.printable(String.valueOf((char) entry.getLinkFlag())) + "'";
        }
        if (kind == null && entry.isSparse()) {
            kind = "a GNU sparse file";
        }
        if (kind != null) {
            throw new PackageException("could not extract " + archive + ": refusing entry '" + raw + "': it is " + kind
                    + "; packages hold only regular files");
        }
        try {
            DeviceFile.checkName(name);
        } catch (IllegalArgumentException e) {
            throw new PackageException("could not extract " + archive + ": refusing entry '" + raw
                    + "': not a plain device name (absolute path, '..' or '/')");
        }
        if (entry.getSize() < 0) {
            throw new PackageException("could not extract " + archive + ": entry '" + raw + "' has a negative size");
        }
        return name;
    }

    private static void writeSparse(
            InputStream in,
            TarArchiveEntry entry,
            Path tmp,
            Path archive,
            Progress progress,
            CountingInputStream counted,
            long archiveSize)
            throws IOException {
        long size = entry.getSize();
        DirectWriter opened;
        try {
            opened = new DirectWriter(tmp, CHUNK_BYTES, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw outputFailure(tmp, e);
        }
        // this thread decompresses while the write-behind thread waits for the disk
        try (DirectWriter out = opened;
                WriteBehind writes = new WriteBehind(out, CHUNK_BYTES, WRITE_BEHIND_BUFFERS)) {
            long pos = 0;
            while (pos < size) {
                int want = (int) Math.min(CHUNK_BYTES, size - pos);
                byte[] buf = writeBuffer(writes, tmp);
                int got = in.readNBytes(buf, 0, want);
                if (got < want) {
                    writes.recycle(buf);
                    throw new PackageException("could not extract " + archive + ": entry '"
                            + BoundedTarInputStream.printable(entry.getName()) + "' is truncated at byte " + (pos + got)
                            + " of " + size);
                }
                if (Arrays.mismatch(buf, 0, got, ZEROS, 0, got) >= 0) {
                    writes.submit(buf, got, pos);
                } else {
                    writes.recycle(buf); // a zero chunk stays a hole
                }
                pos += got;
                progress.update(entry.getName(), counted.count, archiveSize);
            }
            try {
                writes.finish();
                out.setLength(size);
                out.force();
                Files.setLastModifiedTime(tmp, FileTime.from(entry.getModTime().toInstant()));
            } catch (IOException e) {
                throw outputFailure(tmp, e);
            }
        }
    }

    private static byte[] writeBuffer(WriteBehind writes, Path tmp) throws PackageException {
        try {
            return writes.buffer();
        } catch (IOException e) {
            throw outputFailure(tmp, e);
        }
    }

    /** An error writing an output file: not the package's fault, so it is not reported as corruption. */
    private static PackageException outputFailure(Path file, IOException e) {
        return new PackageException("could not write " + file + ": " + describe(e), e);
    }

    private static void drain(InputStream zstd, Path archive) throws IOException {
        byte[] buf = new byte[64 << 10];
        while (zstd.read(buf) >= 0) {
            // padding after the tar end-of-archive blocks; reading it verifies the zstd checksum
        }
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        if (e instanceof EOFException || m == null) {
            m = e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
        }
        return m.replace('\n', ' ');
    }

    static Path temporarySibling(Path target) {
        Path abs = target.toAbsolutePath();
        return abs.resolveSibling("." + abs.getFileName() + ".partial-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1));
    }

    private static Path createTemporaryFor(Path target) throws IOException {
        Path parent = target.toAbsolutePath().getParent();
        if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new PackageException("could not extract to " + target + ": it is a directory");
        }
        Path tmp = temporarySibling(target);
        try {
            Files.createDirectories(parent);
            Files.createFile(tmp, OWNER_ONLY);
        } catch (IOException e) {
            throw outputFailure(tmp, e);
        }
        return tmp;
    }

    static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        } catch (NoSuchFileException e) {
            throw new PackageException("could not move " + tmp + " to " + target + ": " + e.getMessage(), e);
        }
    }

    /** Counts the compressed bytes read, for progress. */
    private static final class CountingInputStream extends FilterInputStream {
        long count;

        CountingInputStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long s = super.skip(n);
            count += s;
            return s;
        }
    }
}
