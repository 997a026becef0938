package io.drafter.peer;

import io.drafter.expose.fuse.DeviceMount;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;

/**
 * A peer's instance directory ({@code <chroot-base-dir>/qemu/<uuid>}): the FUSE mount ({@code devices}) and QEMU's
 * sockets and logs ({@code vm}). The peer holds an exclusive lock on its {@code peer.lock} for as long as it lives,
 * which is how a later peer tells the directory of a killed one (SIGKILL, OOM) from that of a running one, and
 * removes it with its stale mount.
 *
 * <p><b>Note:</b> not thread-safe; owned by one peer. {@link #delete()} is idempotent.
 */
public final class RunDir implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(RunDir.class.getName());
    static final String LOCK = "peer.lock";
    /** Files the peer created for a VM that has not run yet: a killed peer's are removed with its directory. */
    static final String CREATED = "created-files";

    private final Path dir;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private boolean deleted;

    private RunDir(Path dir, FileChannel lockChannel, FileLock lock) {
        this.dir = dir;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /**
     * Cleans what killed peers left under {@code base} (see {@link #cleanStale}), then creates and locks a new
     * instance directory there.
     */
    public static RunDir create(Path base) throws IOException {
        Path qemu = base.resolve("qemu").toAbsolutePath().normalize();
        for (String removed : cleanStale(qemu)) {
            LOG.log(System.Logger.Level.WARNING, "removed " + removed + " left by a peer that was killed");
        }
        Path dir = qemu.resolve(UUID.randomUUID().toString());
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IOException("could not create the instance directory " + dir + ": " + e.getMessage(), e);
        }
        FileChannel ch = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = ch.tryLock();
        if (lock == null) {
            ch.close();
            throw new IOException("could not lock the new instance directory " + dir);
        }
        return new RunDir(dir, ch, lock);
    }

    /**
     * Removes the instance directories under {@code qemuBase} whose peer is gone (nobody holds their lock): their
     * stale FUSE mount is unmounted first; a directory with a live mount or a held lock is left alone.
     *
     * @return what was removed, for the log
     */
    public static List<String> cleanStale(Path qemuBase) {
        List<String> removed = new ArrayList<>();
        if (!Files.isDirectory(qemuBase)) {
            return removed;
        }
        List<Path> dirs;
        try (var list = Files.list(qemuBase)) {
            dirs = list.filter(p -> Files.isRegularFile(p.resolve(LOCK))).toList();
        } catch (IOException e) {
            return removed;
        }
        for (Path d : dirs) {
            try (FileChannel ch = FileChannel.open(d.resolve(LOCK), StandardOpenOption.WRITE)) {
                FileLock l;
                try {
                    l = ch.tryLock();
                } catch (OverlappingFileLockException live) {
                    continue; // a peer of this JVM
                }
                if (l == null) {
                    continue; // its peer runs
                }
                try {
                    Path mnt = d.resolve("devices");
                    DeviceMount.cleanStale(mnt); // throws if a live server still holds it: then keep the directory
                    removed.addAll(deleteCreated(d));
                    deleteTree(d);
                    removed.add("instance directory " + d);
                } finally {
                    if (l.isValid()) {
                        l.release();
                    }
                }
            } catch (IOException e) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "could not clean the instance directory " + d + ": " + e.getMessage());
            }
        }
        return removed;
    }

    /**
     * Notes that the peer created {@code file} for a VM that has not run yet, before the file exists: if the peer is
     * killed before {@link #keepCreated()}, the next peer under the same base removes it.
     */
    public void recordCreated(Path file) throws IOException {
        Files.writeString(
                dir.resolve(CREATED),
                file.toAbsolutePath() + "\n",
                StandardOpenOption.CREATE,
                StandardOpenOption.APPEND,
                StandardOpenOption.DSYNC);
    }

    /** The VM ran on the created files: they hold its state now and are never removed as leftovers. */
    public void keepCreated() throws IOException {
        Files.deleteIfExists(dir.resolve(CREATED));
    }

    private static List<String> deleteCreated(Path d) throws IOException {
        List<String> removed = new ArrayList<>();
        Path list = d.resolve(CREATED);
        if (!Files.exists(list)) {
            return removed;
        }
        for (String line : Files.readAllLines(list)) {
            Path f = Path.of(line.strip());
            if (!line.isBlank() && f.isAbsolute() && Files.deleteIfExists(f)) {
                removed.add("partial file " + f);
            }
        }
        return removed;
    }

    /** The directory. */
    public Path dir() {
        return dir;
    }

    /** The FUSE mount point. */
    public Path devices() {
        return dir.resolve("devices");
    }

    /** QEMU's directory (sockets, console log). */
    public Path vm() {
        return dir.resolve("vm");
    }

    /** Removes the directory (the mount must be gone) and releases the lock. */
    public void delete() {
        if (deleted) {
            return;
        }
        deleted = true;
        try {
            deleteTree(dir);
        } catch (IOException e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "could not remove the instance directory " + dir + ": " + e.getMessage());
        }
        close();
    }

    /** Releases the lock and keeps the directory (e.g. for its logs). */
    @Override
    public void close() {
        try {
            if (lock.isValid()) {
                lock.release();
            }
            lockChannel.close();
        } catch (IOException e) {
            // The lock goes with the channel, or with the process.
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        // A mount point that is still mounted would be descended into: refuse rather than delete device files.
        Path mnt = dir.resolve("devices");
        if (Files.exists(mnt)
                && !io.drafter.linux.MountTable.at(mnt.toAbsolutePath()).isEmpty()) {
            throw new IOException(mnt + " is still mounted");
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
