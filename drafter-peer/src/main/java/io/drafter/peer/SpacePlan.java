package io.drafter.peer;

import io.drafter.linux.Errno;
import io.drafter.linux.Libc;
import io.drafter.linux.LinuxException;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The files a migration in will create, checked against the free space of their file systems before the destination
 * accepts any data: a destination that would run out of space half-way refuses at the start, while the source keeps
 * running. Files are counted at their full size (a guest may fill its whole disk or RAM), and the guest's RAM is
 * reserved up front ({@code fallocate}), because QEMU maps it: a write into a mapped page that finds the disk full
 * kills the VM instead of failing a write.
 *
 * <p><b>Note:</b> stateless.
 */
final class SpacePlan {
    private static final System.Logger LOG = System.getLogger(SpacePlan.class.getName());
    private static final long MIB = 1 << 20;

    /** A file to create: where, how big, and whether to reserve its blocks at once. */
    record NewFile(String device, Path path, long sizeBytes, boolean reserve) {}

    private SpacePlan() {}

    /**
     * Fails, naming the file system, its free space and what the files need, if {@code files} do not fit where they
     * go.
     */
    static void check(List<NewFile> files) throws IOException {
        Map<FileStore, Long> need = new LinkedHashMap<>();
        Map<FileStore, Path> where = new LinkedHashMap<>();
        for (NewFile f : files) {
            FileStore store = Files.getFileStore(existingAncestor(f.path()));
            need.merge(store, f.sizeBytes(), Long::sum);
            where.putIfAbsent(store, f.path().toAbsolutePath().getParent());
        }
        for (Map.Entry<FileStore, Long> e : need.entrySet()) {
            long free = e.getKey().getUsableSpace();
            if (free < e.getValue()) {
                throw new IOException("could not accept the migration: " + where.get(e.getKey()) + " ("
                        + e.getKey().name() + ") has " + mib(free) + " MiB free, the devices to create there need "
                        + mib(e.getValue()) + " MiB");
            }
        }
    }

    /** Reserves the blocks of a file just created, where the file system can; otherwise it stays sparse. */
    static void reserve(NewFile f) throws IOException {
        if (!f.reserve()) {
            return;
        }
        try {
            Libc.fallocate(f.path().toString(), 0, f.sizeBytes());
        } catch (LinuxException e) {
            if (e.errno() == Errno.EOPNOTSUPP) {
                LOG.log(System.Logger.Level.DEBUG, "{0}: no fallocate here, left sparse", f.path());
                return;
            }
            throw new IOException(
                    "could not reserve " + mib(f.sizeBytes()) + " MiB for device \"" + f.device() + "\" at " + f.path()
                            + ": " + e.getMessage(),
                    e);
        }
    }

    private static Path existingAncestor(Path p) {
        Path a = p.toAbsolutePath();
        while (a != null && !Files.exists(a)) {
            a = a.getParent();
        }
        return a == null ? Path.of("/") : a;
    }

    private static long mib(long bytes) {
        return (bytes + MIB - 1) / MIB;
    }
}
