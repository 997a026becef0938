package io.drafter.expose.fuse;

import static io.drafter.linux.fuse.FuseAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.drafter.linux.Errno;
import io.drafter.storage.BlockDevice;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The FUSE opcodes of a flat directory whose regular files are {@link BlockDevice}s: every request is answered here.
 *
 * <p>The root is node 1; device {@code i} (in the order given) is node {@code i + 2} and never changes, so lookups
 * need no reference counting and FORGET is a no-op. READ and WRITE go straight to the device; FSYNC calls the
 * device's {@link BlockDevice#flush()}. Device files cannot change size: a truncate to their own size succeeds, any
 * other size is {@code EINVAL}.
 *
 * <p>Access: device files are mode 0600 and the root 0700, both owned by one user (the mounting process's, or the
 * user QEMU runs as); the mount asks the kernel to enforce that ({@code default_permissions}), and OPEN checks the
 * caller once more, so that guest RAM and disks are never open to other local users, even where the kernel's check
 * is missing.
 *
 * <p><b>Note:</b> thread-safe: {@link #handle} runs on every serving thread at once and keeps no per-request state.
 */
final class DeviceFileSystem {
    /** {@link #handle} result: the request gets no reply (FORGET, BATCH_FORGET, INTERRUPT). */
    static final int NO_REPLY = Integer.MIN_VALUE;

    private static final System.Logger LOG = System.getLogger(DeviceFileSystem.class.getName());
    private static final int FIRST_DEVICE_NODE = 2;
    private static final int ATTR_BLKSIZE = 4096;
    private static final int FILE_MODE = 0600;
    private static final int ROOT_MODE = 0700;

    private final List<String> names;
    private final List<BlockDevice> devices;
    private final Map<String, Integer> indexByName = new HashMap<>();
    private final FuseOptions options;
    private final int ownerUid;
    private final int ownerGid;
    private final int mountUid;
    private final long createdSeconds = System.currentTimeMillis() / 1000;
    private final AtomicLong rootAttrRequests = new AtomicLong();
    private volatile boolean initialized;
    private volatile boolean directIo;

    /**
     * @param ownerUid owner of the files and the root (besides root, the only user that may open them)
     * @param ownerGid their group
     * @param mountUid the mounting process's user, also allowed to open the files
     */
    DeviceFileSystem(
            List<String> names,
            List<BlockDevice> devices,
            FuseOptions options,
            int ownerUid,
            int ownerGid,
            int mountUid) {
        this.names = List.copyOf(names);
        this.devices = List.copyOf(devices);
        this.options = options;
        this.ownerUid = ownerUid;
        this.ownerGid = ownerGid;
        this.mountUid = mountUid;
        for (int i = 0; i < names.size(); i++) {
            indexByName.put(names.get(i), i);
        }
    }

    /** GETATTRs of the root answered so far: the mount's probe watches this counter move. */
    long rootAttrRequests() {
        return rootAttrRequests.get();
    }

    /** Whether the kernel's INIT has been answered. */
    boolean initialized() {
        return initialized;
    }

    /**
     * Answers one request.
     *
     * <p>{@code in} is the opcode's body (after the 40-byte header); {@code out} is where the reply body goes. They
     * share memory: every handler reads all of its input before it writes output. {@code callerUid} is the uid in the
     * request's header (the calling process's file-system uid).
     *
     * @return the reply body's length, a negated errno, or {@link #NO_REPLY}
     * @throws IOException if the device failed; the caller answers EIO
     */
    int handle(int opcode, long node, int callerUid, MemorySegment in, MemorySegment out) throws IOException {
        if (in.byteSize() < inputBytes(opcode)) {
            return -Errno.EINVAL; // the kernel never sends less; nothing past the request is read
        }
        return switch (opcode) {
            case INIT -> init(in, out);
            case LOOKUP -> lookup(node, in, out);
            case GETATTR -> getattr(node, out);
            case SETATTR -> setattr(node, in, out);
            case OPEN -> open(node, callerUid, out);
            case READ -> read(node, in, out);
            case WRITE -> write(node, in, out);
            case FLUSH, RELEASE, RELEASEDIR, ACCESS, DESTROY, FSYNCDIR -> isNode(node) ? 0 : -Errno.ENOENT;
            case FSYNC -> fsync(node);
            case STATFS -> statfs(out);
            case OPENDIR -> node == ROOT_ID ? openReply(out, 0) : -Errno.ENOTDIR;
            case READDIR -> readdir(node, in, out);
            case FORGET, BATCH_FORGET, INTERRUPT -> NO_REPLY;
            default -> -Errno.ENOSYS;
        };
    }

    /** The bytes of an opcode's input struct that its handler reads (all of them but WRITE's data). */
    private static int inputBytes(int opcode) {
        return switch (opcode) {
            case INIT -> 16; // fuse_init_in before 7.36; flags2 is read only when present
            case SETATTR -> 24;
            case READ, READDIR -> 20;
            case WRITE -> WRITE_IN_BYTES;
            default -> 0;
        };
    }

    private int init(MemorySegment in, MemorySegment out) {
        int major = in.get(JAVA_INT, 0);
        int minor = in.get(JAVA_INT, 4);
        int kernelReadahead = in.get(JAVA_INT, 8);
        int kernelFlags = in.get(JAVA_INT, 12);
        int kernelFlags2 = (kernelFlags & INIT_EXT) != 0 && in.byteSize() >= 20 ? in.get(JAVA_INT, 16) : 0;
        if (major != KERNEL_VERSION) {
            LOG.log(
                    System.Logger.Level.ERROR,
                    "FUSE kernel protocol {0}.{1} is not supported (need 7.x)",
                    major,
                    minor);
            return -Errno.EPROTO;
        }
        int wanted = ASYNC_READ | BIG_WRITES | ASYNC_DIO | PARALLEL_DIROPS | MAX_PAGES;
        int wanted2 = 0;
        if (options.writebackCache()) {
            wanted |= WRITEBACK_CACHE;
        }
        if (options.directIo()) {
            // read(2)/write(2) bypass the page cache, but shared mmap (QEMU's guest RAM) still works through it.
            wanted |= INIT_EXT;
            wanted2 |= DIRECT_IO_ALLOW_MMAP2;
        }
        out.asSlice(0, INIT_OUT_BYTES).fill((byte) 0);
        out.set(JAVA_INT, 0, KERNEL_VERSION);
        out.set(JAVA_INT, 4, Math.min(minor, KERNEL_MINOR_VERSION));
        out.set(JAVA_INT, 8, Math.max(kernelReadahead, options.maxIoBytes()));
        out.set(JAVA_INT, 12, wanted & kernelFlags);
        out.set(JAVA_SHORT, 16, (short) options.maxBackground());
        out.set(JAVA_SHORT, 18, (short) Math.max(1, options.maxBackground() * 3 / 4));
        out.set(JAVA_INT, 20, options.maxIoBytes());
        out.set(JAVA_INT, 24, 1);
        out.set(JAVA_SHORT, 28, (short) options.maxPages());
        out.set(JAVA_INT, 32, wanted2 & kernelFlags2);
        // Direct I/O only where shared mmap still works with it; older kernels get page-cache mode instead.
        directIo = options.directIo() && (kernelFlags2 & DIRECT_IO_ALLOW_MMAP2) != 0;
        LOG.log(
                System.Logger.Level.DEBUG,
                "FUSE INIT: kernel {0}.{1} flags 0x{2}, granted 0x{3}",
                major,
                minor,
                Integer.toHexString(kernelFlags),
                Integer.toHexString(wanted & kernelFlags));
        initialized = true;
        return INIT_OUT_BYTES;
    }

    private int lookup(long parent, MemorySegment in, MemorySegment out) {
        if (parent != ROOT_ID) {
            return -Errno.ENOTDIR;
        }
        long nul = 0;
        while (nul < in.byteSize() && in.get(JAVA_BYTE, nul) != 0) {
            nul++;
        }
        if (nul == in.byteSize()) {
            return -Errno.EINVAL; // no terminated name
        }
        String name = in.getString(0, StandardCharsets.UTF_8);
        Integer index = indexByName.get(name);
        if (index == null) {
            return -Errno.ENOENT;
        }
        long node = index + FIRST_DEVICE_NODE;
        long timeout = options.attrTimeout().toSeconds();
        out.asSlice(0, ENTRY_OUT_BYTES).fill((byte) 0);
        out.set(JAVA_LONG, 0, node);
        out.set(JAVA_LONG, 16, timeout);
        out.set(JAVA_LONG, 24, timeout);
        fillAttr(out.asSlice(40, ATTR_BYTES), node);
        return ENTRY_OUT_BYTES;
    }

    private int getattr(long node, MemorySegment out) {
        if (!isNode(node)) {
            return -Errno.ENOENT;
        }
        out.asSlice(0, ATTR_OUT_BYTES).fill((byte) 0);
        if (node == ROOT_ID) {
            // The root's attributes are never cached so that every stat of the mount point reaches us (the probe).
            rootAttrRequests.incrementAndGet();
        } else {
            out.set(JAVA_LONG, 0, options.attrTimeout().toSeconds());
        }
        fillAttr(out.asSlice(16, ATTR_BYTES), node);
        return ATTR_OUT_BYTES;
    }

    private int setattr(long node, MemorySegment in, MemorySegment out) {
        int valid = in.get(JAVA_INT, 0);
        long size = in.get(JAVA_LONG, 16);
        if (!isNode(node)) {
            return -Errno.ENOENT;
        }
        if ((valid & (FATTR_MODE | FATTR_UID | FATTR_GID)) != 0) {
            return -Errno.EPERM;
        }
        if ((valid & FATTR_SIZE) != 0
                && (node == ROOT_ID || size != device(node).sizeBytes())) {
            return node == ROOT_ID ? -Errno.EISDIR : -Errno.EINVAL;
        }
        // Times are not stored: a device file's times are those of the mount.
        return getattr(node, out);
    }

    private int open(long node, int callerUid, MemorySegment out) {
        int refused = checkFile(node);
        if (refused != 0) {
            return refused;
        }
        // The kernel already checked the file's mode (default_permissions); this holds even on a mount without it.
        if (callerUid != 0 && callerUid != ownerUid && callerUid != mountUid) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "refused to open device {0} for uid {1}",
                    names.get(index(node)),
                    callerUid);
            return -Errno.EACCES;
        }
        int flags = (options.keepCache() ? FOPEN_KEEP_CACHE : 0) | (directIo ? FOPEN_DIRECT_IO : 0);
        return openReply(out, flags);
    }

    private static int openReply(MemorySegment out, int openFlags) {
        out.set(JAVA_LONG, 0, 0L);
        out.set(JAVA_INT, 8, openFlags);
        out.set(JAVA_INT, 12, 0);
        return OPEN_OUT_BYTES;
    }

    private int read(long node, MemorySegment in, MemorySegment out) throws IOException {
        long offset = in.get(JAVA_LONG, 8);
        int size = in.get(JAVA_INT, 16);
        int refused = checkFile(node);
        if (refused != 0) {
            return refused;
        }
        if (offset < 0) {
            return -Errno.EINVAL; // an offset past 2^63
        }
        BlockDevice device = device(node);
        if (offset >= device.sizeBytes() || size <= 0) {
            return 0;
        }
        int n = (int) Math.min(Math.min(size, out.byteSize()), device.sizeBytes() - offset);
        var dst = out.asSlice(0, n).asByteBuffer();
        int total = 0;
        while (dst.hasRemaining()) {
            int r = device.read(dst, offset + total);
            if (r <= 0) {
                break;
            }
            total += r;
        }
        return total;
    }

    private int write(long node, MemorySegment in, MemorySegment out) throws IOException {
        long offset = in.get(JAVA_LONG, 8);
        int size = in.get(JAVA_INT, 16);
        int refused = checkFile(node);
        if (refused != 0) {
            return refused;
        }
        if (offset < 0 || size < 0 || size > in.byteSize() - WRITE_IN_BYTES) {
            return -Errno.EINVAL; // an offset past 2^63, or a size the request's data does not have
        }
        BlockDevice device = device(node);
        if (offset >= device.sizeBytes()) {
            return -Errno.ENOSPC;
        }
        int n = (int) Math.min(size, device.sizeBytes() - offset);
        device.write(in.asSlice(WRITE_IN_BYTES, n).asByteBuffer(), offset);
        // The reply (fuse_write_out) overwrites the start of the data just written; nothing reads it afterwards.
        out.set(JAVA_INT, 0, n);
        out.set(JAVA_INT, 4, 0);
        return WRITE_OUT_BYTES;
    }

    private int fsync(long node) throws IOException {
        if (!isNode(node)) {
            return -Errno.ENOENT;
        }
        if (node != ROOT_ID) {
            device(node).flush();
        }
        return 0;
    }

    private int statfs(MemorySegment out) {
        long bytes = 0;
        for (BlockDevice d : devices) {
            bytes += d.sizeBytes();
        }
        out.asSlice(0, STATFS_OUT_BYTES).fill((byte) 0);
        out.set(JAVA_LONG, 0, (bytes + ATTR_BLKSIZE - 1) / ATTR_BLKSIZE);
        out.set(JAVA_LONG, 24, devices.size() + 1L);
        out.set(JAVA_INT, 40, ATTR_BLKSIZE);
        out.set(JAVA_INT, 44, 255);
        out.set(JAVA_INT, 48, ATTR_BLKSIZE);
        return STATFS_OUT_BYTES;
    }

    private int readdir(long node, MemorySegment in, MemorySegment out) {
        long offset = in.get(JAVA_LONG, 8);
        int size = in.get(JAVA_INT, 16);
        if (node != ROOT_ID) {
            return -Errno.ENOTDIR;
        }
        int limit = (int) Math.min(size, out.byteSize());
        int pos = 0;
        // Entry k: 0 ".", 1 "..", 2.. the devices; a dirent's off is the index of the entry after it.
        for (long k = Math.max(0, offset); k < names.size() + 2L; k++) {
            String name = k == 0 ? "." : k == 1 ? ".." : names.get((int) k - 2);
            byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
            int entryBytes = (DIRENT_HEADER_BYTES + bytes.length + 7) & ~7;
            if (pos + entryBytes > limit) {
                break;
            }
            MemorySegment e = out.asSlice(pos, entryBytes);
            e.fill((byte) 0);
            e.set(JAVA_LONG, 0, k < 2 ? ROOT_ID : k);
            e.set(JAVA_LONG, 8, k + 1);
            e.set(JAVA_INT, 16, bytes.length);
            e.set(JAVA_INT, 20, k < 2 ? DT_DIR : DT_REG);
            MemorySegment.copy(bytes, 0, e, JAVA_BYTE, DIRENT_HEADER_BYTES, bytes.length);
            pos += entryBytes;
        }
        return pos;
    }

    private void fillAttr(MemorySegment attr, long node) {
        attr.fill((byte) 0);
        boolean root = node == ROOT_ID;
        long size = root ? 0 : device(node).sizeBytes();
        attr.set(JAVA_LONG, 0, node);
        attr.set(JAVA_LONG, 8, size);
        attr.set(JAVA_LONG, 16, (size + 511) / 512);
        attr.set(JAVA_LONG, 24, createdSeconds);
        attr.set(JAVA_LONG, 32, createdSeconds);
        attr.set(JAVA_LONG, 40, createdSeconds);
        attr.set(JAVA_INT, 60, root ? S_IFDIR | ROOT_MODE : S_IFREG | FILE_MODE);
        attr.set(JAVA_INT, 64, root ? 2 : 1);
        attr.set(JAVA_INT, 68, ownerUid);
        attr.set(JAVA_INT, 72, ownerGid);
        attr.set(JAVA_INT, 80, ATTR_BLKSIZE);
    }

    /** {@code 0} if {@code node} is a device file, else the negated errno that refuses a file operation on it. */
    private int checkFile(long node) {
        if (node == ROOT_ID) {
            return -Errno.EISDIR;
        }
        return isNode(node) ? 0 : -Errno.ENOENT;
    }

    private boolean isNode(long node) {
        return node == ROOT_ID || (node >= FIRST_DEVICE_NODE && node < FIRST_DEVICE_NODE + devices.size());
    }

    private BlockDevice device(long node) {
        return devices.get(index(node));
    }

    private static int index(long node) {
        return (int) (node - FIRST_DEVICE_NODE);
    }
}
