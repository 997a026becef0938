package io.drafter.expose.fuse;

import io.drafter.linux.Errno;
import io.drafter.linux.ExitActions;
import io.drafter.linux.Libc;
import io.drafter.linux.LinuxException;
import io.drafter.linux.MountTable;
import io.drafter.linux.ProcessState;
import io.drafter.linux.fuse.FuseDevice;
import io.drafter.storage.BlockDevice;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A directory in which each named {@link BlockDevice} is a regular file of the device's size, served over FUSE.
 *
 * <p>{@link #mount} mounts a file system of type {@code fuse.drafter} speaking the kernel's protocol on
 * {@code /dev/fuse} directly (no libfuse), starts the serving threads, and returns only after a probe round trip: a
 * {@code stat} of the mount root that the server itself observed. A mount of ours left behind by a crashed process
 * ("Transport endpoint is not connected") at the same directory is unmounted first; a JVM that exits without
 * {@link #close()} (but not one killed with SIGKILL) unmounts in a shutdown hook. Reads and writes of a file go
 * to its device; {@code fsync} reaches {@link BlockDevice#flush()}; shared writable {@code mmap} works (page-cache
 * mode) and its dirty pages arrive as WRITEs on {@code msync}/{@code fsync}/writeback.
 *
 * <p>Only their owner can open the files: they are mode 0600 and the root directory 0700, owned by
 * {@link FuseOptions#ownerUid()} (by default the mounting user), and the mount has {@code default_permissions}, so the
 * kernel checks those modes for every caller ({@code allow_other} lets root and that owner in; other users get
 * {@code EACCES}). OPEN checks the caller's uid once more.
 *
 * <p><b>Note:</b> thread-safe. The devices stay owned by the caller: {@link #close()} unmounts and stops the
 * threads but does not close them. {@link #close()} is idempotent. Needs root (or CAP_SYS_ADMIN).
 */
public final class DeviceMount implements AutoCloseable {
    /** The file system type in {@code /proc/mounts}: how our mounts (and stale ones) are recognized. */
    public static final String FS_TYPE = "fuse.drafter";
    /** A mount's source: {@code drafter:<pid of the serving process>}. */
    static final String SOURCE_PREFIX = "drafter:";

    private static final System.Logger LOG = System.getLogger(DeviceMount.class.getName());
    private static final String FUSECTL = "/sys/fs/fuse/connections";

    private final Path dir;
    private final FuseDevice fuse;
    private final DeviceFileSystem fs;
    private final FuseServer server;
    private final List<String> names;
    private volatile String bdi = "";
    private volatile ExitActions.Handle unmountAtExit = () -> {};
    private boolean closed;

    private DeviceMount(Path dir, FuseDevice fuse, DeviceFileSystem fs, FuseServer server, List<String> names) {
        this.dir = dir;
        this.fuse = fuse;
        this.fs = fs;
        this.server = server;
        this.names = names;
    }

    /**
     * Mounts {@code devices} (name to device, in directory order) at {@code dir}, creating the directory if needed.
     *
     * @throws IOException if a name is not a file name, another file system or a live server holds {@code dir}, or
     *     a step fails; the message names the step, the directory and (for system calls) the errno
     */
    public static DeviceMount mount(Path dir, Map<String, ? extends BlockDevice> devices, FuseOptions options)
            throws IOException {
        Map<String, BlockDevice> ordered = new LinkedHashMap<>(devices);
        for (String name : ordered.keySet()) {
            checkName(dir, name);
        }
        Path target = canonical(dir);
        cleanStale(target);
        Files.createDirectories(target);
        if (!Files.isDirectory(target)) {
            throw new IOException("could not mount devices at " + target + ": not a directory");
        }
        List<String> names = List.copyOf(ordered.keySet());
        int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        int gid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:gid");
        int ownerUid = options.ownerUid() >= 0 ? options.ownerUid() : uid;
        int ownerGid = options.ownerUid() >= 0 ? options.ownerGid() : gid;
        DeviceFileSystem fs =
                new DeviceFileSystem(names, new ArrayList<>(ordered.values()), options, ownerUid, ownerGid, uid);
        FuseDevice fuse = FuseDevice.open();
        String label =
                target.getFileName() == null ? "root" : target.getFileName().toString();
        FuseServer server = new FuseServer(label, fuse, fs, options);
        DeviceMount mount = new DeviceMount(target, fuse, fs, server, names);
        boolean ok = false;
        try {
            // allow_other lets root and a QEMU running as another user in; default_permissions makes the kernel
            // check the files' owner and mode (0600) for every caller, so that nobody else can.
            String data = "fd=" + fuse.fd() + ",rootmode=40700,user_id=" + uid + ",group_id=" + gid
                    + ",default_permissions,allow_other,max_read=" + options.maxIoBytes();
            // The source names the serving process: a stale-mount check reads it instead of asking a server that may
            // never answer.
            Libc.mount(
                    SOURCE_PREFIX + ProcessHandle.current().pid(),
                    target.toString(),
                    FS_TYPE,
                    Libc.MS_NOSUID | Libc.MS_NODEV,
                    data);
            // Only now: /dev/fuse refuses reads (EPERM) until a mount attaches it to a connection.
            server.start();
            mount.probe(options.probeTimeout());
            mount.tune(options);
            // A JVM that exits without close() (System.exit, an unhandled signal) still takes its mount along, after
            // the application's own exit actions (which may still be saving a VM through it); only kill -9 leaves a
            // stale one behind, which the next mount of the directory cleans. The connection is aborted too: a thread
            // of this JVM still blocked in a read of the mount (waiting for a block that will never come) would
            // otherwise keep the exiting process from ever ending, as its server threads are gone.
            mount.unmountAtExit = ExitActions.register(ExitActions.Stage.MOUNTS, "unmount " + target, () -> {
                try {
                    Libc.umount2(target.toString(), Libc.MNT_DETACH);
                } catch (LinuxException e) {
                    // Nothing to do at exit: the mount is gone already, or the next mount's stale check removes it.
                }
                mount.abortConnection();
            });
            ok = true;
            LOG.log(System.Logger.Level.DEBUG, "mounted {0} devices at {1} (bdi {2})", names.size(), target, mount.bdi);
            return mount;
        } finally {
            if (!ok) {
                mount.close();
            }
        }
    }

    /** Mounts with {@link FuseOptions#defaults()}. */
    public static DeviceMount mount(Path dir, Map<String, ? extends BlockDevice> devices) throws IOException {
        return mount(dir, devices, FuseOptions.defaults());
    }

    /**
     * Unmounts a {@code fuse.drafter} mount at {@code dir} whose server is gone ({@code ENOTCONN}); does nothing if
     * none is there.
     *
     * @throws IOException if another file system, or a drafter mount whose server still answers, is mounted there
     */
    public static void cleanStale(Path dir) throws IOException {
        Path target = canonical(dir);
        for (int attempt = 0; attempt < 8; attempt++) {
            List<MountTable.Entry> here = MountTable.at(target);
            if (here.isEmpty()) {
                return;
            }
            MountTable.Entry top = here.getLast();
            if (!top.fsType().equals(FS_TYPE)) {
                throw new IOException("could not mount devices at " + target + ": a " + top.fsType()
                        + " file system is mounted there");
            }
            long server = serverPid(top.source());
            if (server > 0 && !ProcessState.runs(server)) {
                // Killed, maybe while one of its own threads waited on this mount: that request is never answered, and
                // the dying process keeps the connection, so any access here would wait for good. Abort it first.
                LOG.log(
                        System.Logger.Level.WARNING,
                        "unmounting stale FUSE mount at {0} (server {1} gone)",
                        target,
                        Long.toString(server));
                abortConnection(top.majorMinor(), target);
                unmount(target);
                continue;
            }
            int err = Libc.accessErrno(target.toString());
            if (err != Errno.ENOTCONN) {
                throw new IOException("could not mount devices at " + target
                        + ": it is already mounted by a running drafter FUSE server (bdi " + top.majorMinor() + ")");
            }
            LOG.log(System.Logger.Level.WARNING, "unmounting stale FUSE mount at {0} (server gone)", target);
            unmount(target);
        }
        throw new IOException("could not clean stale mounts at " + target + ": still mounted after 8 unmounts");
    }

    /** The PID in a mount source {@code drafter:<pid>}, or -1 (an older mount: plain {@code drafter}). */
    static long serverPid(String source) {
        if (source == null || !source.startsWith(SOURCE_PREFIX)) {
            return -1;
        }
        try {
            return Long.parseLong(source.substring(SOURCE_PREFIX.length()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The mount point. */
    public Path dir() {
        return dir;
    }

    /** The file of device {@code name}. */
    public Path file(String name) {
        if (!names.contains(name)) {
            throw new IllegalArgumentException("no device named \"" + name + "\" in the mount at " + dir);
        }
        return dir.resolve(name);
    }

    /** The mount's backing-device id ({@code major:minor}), naming its {@code /sys/class/bdi} directory. */
    public String bdi() {
        return bdi;
    }

    /** Requests whose handler threw (answered EIO) so far. */
    public long handlerFailures() {
        return server.handlerFailures();
    }

    /** Requests received so far with FUSE {@code opcode} (see {@code FuseAbi}), e.g. the WRITEs an msync caused. */
    public long requests(int opcode) {
        return server.requests(opcode);
    }

    /** The most serving threads that were alive at once. */
    public int peakThreads() {
        return server.peakThreads();
    }

    private void probe(Duration timeout) throws IOException {
        long before = fs.rootAttrRequests();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("fuse-probe").daemon(true).start(() -> {
            try {
                Files.readAttributes(dir, "unix:ino");
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        try {
            if (!t.join(timeout)) {
                throw new IOException("could not mount devices at " + dir + ": the probe (stat of the mount root) got"
                        + " no answer within " + timeout.toMillis() + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("could not mount devices at " + dir + ": interrupted during the probe", e);
        }
        if (failure.get() != null) {
            throw new IOException(
                    "could not mount devices at " + dir + ": the probe failed: "
                            + failure.get().getMessage(),
                    failure.get());
        }
        if (fs.rootAttrRequests() <= before) {
            throw new IOException("could not mount devices at " + dir + ": the probe's stat was not answered by this"
                    + " server (another file system is in the way)");
        }
        List<MountTable.Entry> here = MountTable.at(dir);
        if (here.isEmpty() || !here.getLast().fsType().equals(FS_TYPE)) {
            throw new IOException("could not mount devices at " + dir + ": not in /proc/self/mountinfo after mount");
        }
        bdi = here.getLast().majorMinor();
    }

    private void tune(FuseOptions options) {
        Path sys = Path.of("/sys/class/bdi", bdi);
        if (options.readAheadKb() > 0) {
            writeSys(sys.resolve("read_ahead_kb"), options.readAheadKb());
        }
        // strict_limit before max_ratio: the kernel refuses some max_ratio values while strict_limit is set.
        if (options.bdiStrictLimit() >= 0) {
            writeSys(sys.resolve("strict_limit"), options.bdiStrictLimit());
        }
        if (options.bdiMaxRatioPercent() >= 0) {
            writeSys(sys.resolve("max_ratio"), options.bdiMaxRatioPercent());
        }
    }

    private static void writeSys(Path file, int value) {
        try {
            Files.writeString(file, Integer.toString(value));
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not tune FUSE mount: write {0} to {1}: {2}", value, file, e);
        }
    }

    /**
     * Unmounts (lazily if busy), waits for the serving threads to end (aborting the connection if files stay open),
     * and closes {@code /dev/fuse}.
     */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        unmountAtExit.cancel();
        IOException failure = null;
        boolean lazy = false;
        try {
            List<MountTable.Entry> here = MountTable.at(dir);
            if (!here.isEmpty() && here.getLast().fsType().equals(FS_TYPE)) {
                lazy = unmount(dir);
            }
        } catch (IOException e) {
            failure = e;
        }
        try {
            // After a lazy unmount a file is still open (a process, a loop device): its holder cannot reach the
            // detached mount to close it for us, so the connection is aborted after a short grace.
            if (!server.awaitStopped(Duration.ofSeconds(lazy ? 1 : 5))) {
                abortConnection();
                if (!server.awaitStopped(Duration.ofSeconds(10))) {
                    server.interruptAll();
                    if (!server.awaitStopped(Duration.ofSeconds(10))) {
                        LOG.log(System.Logger.Level.ERROR, "FUSE threads of {0} did not stop", dir);
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            fuse.close();
        } catch (LinuxException e) {
            failure = failure == null ? e : failure;
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** Unmounts {@code target}, lazily if it is busy; returns whether it had to be lazy. */
    private static boolean unmount(Path target) throws LinuxException {
        try {
            Libc.umount2(target.toString(), 0);
            return false;
        } catch (LinuxException e) {
            if (e.errno() == Errno.EINVAL || e.errno() == Errno.ENOENT) {
                return false;
            }
            LOG.log(System.Logger.Level.DEBUG, "umount of {0} failed ({1}), detaching", target, e.errnoName());
            Libc.umount2(target.toString(), Libc.MNT_DETACH);
            return true;
        }
    }

    private void abortConnection() {
        abortConnection(bdi, dir);
    }

    /** Aborts the FUSE connection of the mount at {@code dir} whose device is {@code bdi} ("0:NN"): every request fails. */
    private static void abortConnection(String bdi, Path dir) {
        if (bdi.isEmpty()) {
            return;
        }
        String connection = bdi.substring(bdi.indexOf(':') + 1);
        boolean mountedHere = false;
        try {
            if (!Files.exists(Path.of(FUSECTL, connection))) {
                Libc.mount("fusectl", FUSECTL, "fusectl", 0, null);
                mountedHere = true;
            }
            Path abort = Path.of(FUSECTL, connection, "abort");
            if (!Files.exists(abort)) {
                LOG.log(System.Logger.Level.DEBUG, "FUSE connection {0} of {1} is already gone", connection, dir);
                return;
            }
            Files.writeString(abort, "1", StandardCharsets.US_ASCII);
            LOG.log(System.Logger.Level.WARNING, "aborted FUSE connection {0} of {1}", connection, dir);
        } catch (IOException e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "could not abort FUSE connection {0}: {1}",
                    connection,
                    e.getMessage());
        } finally {
            if (mountedHere) {
                try {
                    Libc.umount2(FUSECTL, 0);
                } catch (LinuxException e) {
                    LOG.log(System.Logger.Level.WARNING, "could not unmount " + FUSECTL + ": " + e.getMessage());
                }
            }
        }
    }

    private static void checkName(Path dir, String name) throws IOException {
        if (name == null
                || name.isEmpty()
                || name.equals(".")
                || name.equals("..")
                || name.indexOf('/') >= 0
                || name.indexOf('\0') >= 0
                || name.getBytes(StandardCharsets.UTF_8).length > 255) {
            throw new IOException("could not mount devices at " + dir + ": device name \"" + name
                    + "\" is not a file name (1..255 bytes, no '/', not . or ..)");
        }
    }

    /** The absolute path of {@code dir} with its parent's symbolic links resolved (the mount point itself may be dead). */
    private static Path canonical(Path dir) throws IOException {
        Path abs = dir.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent == null) {
            return abs;
        }
        return parent.toRealPath().resolve(abs.getFileName());
    }

    @Override
    public String toString() {
        return "DeviceMount(" + dir + ", " + names + ")";
    }
}
