package io.drafter.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The C library calls this project makes, resolved once, each capturing {@code errno}.
 *
 * <p>Two styles: the {@code raw} methods take a caller-owned call-state segment (see {@link #allocateCallState}) and
 * return the C result unchanged, for hot loops that must not allocate; the others throw {@link LinuxException}
 * naming the call, the errno and the object.
 *
 * <p><b>Note:</b> thread-safe; a call-state segment must not be shared by threads calling at the same time.
 */
public final class Libc {
    private Libc() {}

    /** {@code open} flags (x86_64). */
    public static final int O_RDONLY = 0;

    public static final int O_RDWR = 2;
    public static final int O_CLOEXEC = 0x80000;

    /** {@code mount} flags. */
    public static final long MS_NOSUID = 2;

    public static final long MS_NODEV = 4;

    /** {@code umount2} flags. */
    public static final int MNT_FORCE = 1;

    public static final int MNT_DETACH = 2;

    /** {@code lseek} whence: the next offset holding data. */
    public static final int SEEK_DATA = 3;

    /** {@code lseek} whence: the next hole (the end of the file counts as one). */
    public static final int SEEK_HOLE = 4;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup C = LINKER.defaultLookup();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO_HANDLE = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final MethodHandle OPEN = handle(
            "open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            ERRNO,
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = handle("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle READ =
            handle("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), ERRNO);
    private static final MethodHandle WRITE =
            handle("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), ERRNO);
    private static final MethodHandle WRITEV =
            handle("writev", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle MOUNT =
            handle("mount", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS), ERRNO);
    private static final MethodHandle UMOUNT2 =
            handle("umount2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle ACCESS =
            handle("access", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle FALLOCATE =
            handle("fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), ERRNO);
    private static final MethodHandle LSEEK =
            handle("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT), ERRNO);
    private static final MethodHandle LCHOWN =
            handle("lchown", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle CHMOD =
            handle("chmod", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), ERRNO);
    private static final MethodHandle MKNOD =
            handle("mknod", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG), ERRNO);
    private static final MethodHandle LSETXATTR =
            handle("lsetxattr", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT), ERRNO);
    private static final MethodHandle STRERROR = handle("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    private static final MethodHandle POSIX_FADVISE =
            handle("posix_fadvise", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final int POSIX_FADV_DONTNEED = 4;
    private static final MethodHandle SOCKET =
            handle("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), ERRNO);
    private static final MethodHandle RECV =
            handle("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), ERRNO);

    private static MethodHandle handle(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment symbol =
                C.find(name).orElseThrow(() -> new UnsatisfiedLinkError("could not find libc symbol " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    /** Allocates a segment that receives {@code errno} from the raw calls; owned by {@code arena}. */
    public static MemorySegment allocateCallState(Arena arena) {
        return arena.allocate(CALL_STATE);
    }

    /** The errno the last raw call with {@code callState} left. */
    public static int errno(MemorySegment callState) {
        return (int) ERRNO_HANDLE.get(callState, 0L);
    }

    /** {@code read(2)}: returns the byte count or -1 with errno in {@code callState}. */
    public static long readRaw(MemorySegment callState, int fd, MemorySegment buf, long count) {
        try {
            return (long) READ.invokeExact(callState, fd, buf, count);
        } catch (Throwable t) {
            throw new AssertionError("read downcall failed", t);
        }
    }

    /** {@code write(2)}: returns the byte count or -1 with errno in {@code callState}. */
    public static long writeRaw(MemorySegment callState, int fd, MemorySegment buf, long count) {
        try {
            return (long) WRITE.invokeExact(callState, fd, buf, count);
        } catch (Throwable t) {
            throw new AssertionError("write downcall failed", t);
        }
    }

    /**
     * {@code writev(2)} over {@code iovcnt} {@code struct iovec}s (16 bytes each: base, length) at {@code iov}: returns
     * the byte count or -1 with errno in {@code callState}.
     */
    public static long writevRaw(MemorySegment callState, int fd, MemorySegment iov, int iovcnt) {
        try {
            return (long) WRITEV.invokeExact(callState, fd, iov, iovcnt);
        } catch (Throwable t) {
            throw new AssertionError("writev downcall failed", t);
        }
    }

    /**
     * {@code recv(2)} with {@code flags} (e.g. {@code MSG_DONTWAIT}, 0x40): returns the byte count or -1 with errno in
     * {@code callState}.
     */
    public static long recvRaw(MemorySegment callState, int fd, MemorySegment buf, long count, int flags) {
        try {
            return (long) RECV.invokeExact(callState, fd, buf, count, flags);
        } catch (Throwable t) {
            throw new AssertionError("recv downcall failed", t);
        }
    }

    /** {@code socket(2)}; returns the new descriptor. {@code what} names it in the error. */
    public static int socket(int domain, int type, int protocol, String what) throws LinuxException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            int fd = (int) SOCKET.invokeExact(cs, domain, type, protocol);
            if (fd < 0) {
                throw new LinuxException("socket", errno(cs), "open " + what);
            }
            return fd;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("socket downcall failed", t);
        }
    }

    /** {@code open(2)}; returns the new descriptor. */
    public static int open(String path, int flags) throws LinuxException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            int fd = (int) OPEN.invokeExact(cs, arena.allocateFrom(path), flags, 0);
            if (fd < 0) {
                throw new LinuxException("open", errno(cs), "open " + path);
            }
            return fd;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("open downcall failed", t);
        }
    }

    /** {@code close(2)}. */
    public static void close(int fd) throws LinuxException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            int r = (int) CLOSE.invokeExact(cs, fd);
            if (r < 0) {
                throw new LinuxException("close", errno(cs), "close fd " + fd);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("close downcall failed", t);
        }
    }

    /** {@code mount(2)}; {@code data} may be {@code null}. */
    public static void mount(String source, String target, String fsType, long flags, String data)
            throws LinuxException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            MemorySegment dataSeg = data == null ? MemorySegment.NULL : arena.allocateFrom(data);
            int r = (int) MOUNT.invokeExact(
                    cs,
                    arena.allocateFrom(source),
                    arena.allocateFrom(target),
                    arena.allocateFrom(fsType),
                    flags,
                    dataSeg);
            if (r < 0) {
                throw new LinuxException("mount", errno(cs), "mount " + fsType + " at " + target);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("mount downcall failed", t);
        }
    }

    /** {@code umount2(2)}. */
    public static void umount2(String target, int flags) throws LinuxException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            int r = (int) UMOUNT2.invokeExact(cs, arena.allocateFrom(target), flags);
            if (r < 0) {
                throw new LinuxException("umount2", errno(cs), "unmount " + target);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("umount2 downcall failed", t);
        }
    }

    /**
     * {@code access(path, F_OK)}: {@code 0} if {@code path} exists, else the errno (e.g. {@link Errno#ENOTCONN} for
     * the root of a FUSE mount whose server is gone).
     */
    public static int accessErrno(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            int r = (int) ACCESS.invokeExact(cs, arena.allocateFrom(path), 0);
            return r == 0 ? 0 : errno(cs);
        } catch (Throwable t) {
            throw new AssertionError("access downcall failed", t);
        }
    }

    /**
     * {@code fallocate(2)} with mode 0 on {@code path}: reserves blocks for {@code [offset, offset + length)} so that
     * later writes there cannot fail for lack of space (what is reserved reads as zeros), and extends the file if it is
     * shorter. File systems without it fail with {@link Errno#EOPNOTSUPP}.
     */
    public static void fallocate(String path, long offset, long length) throws LinuxException {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            int r = (int) FALLOCATE.invokeExact(cs, fd, 0, offset, length);
            if (r < 0) {
                throw new LinuxException("fallocate", errno(cs), "reserve " + length + " bytes for " + path);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("fallocate downcall failed", t);
        } finally {
            close(fd);
        }
    }

    /**
     * {@code lseek(2)} with {@code whence} ({@link #SEEK_DATA} or {@link #SEEK_HOLE}) on {@code fd}, which is open on
     * {@code path}: returns the offset, or {@code -1} when there is no data at or after {@code offset} ({@link
     * Errno#ENXIO}).
     */
    public static long seek(int fd, long offset, int whence, String path) throws LinuxException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            long r = (long) LSEEK.invokeExact(cs, fd, offset, whence);
            if (r < 0) {
                if (errno(cs) == Errno.ENXIO) {
                    return -1;
                }
                throw new LinuxException("lseek", errno(cs), "lseek " + path);
            }
            return r;
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("lseek downcall failed", t);
        }
    }

    /** {@code lchown(2)}: sets the owner of {@code path} without following a symlink there. */
    public static void lchown(String path, int uid, int gid) throws LinuxException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            int r = (int) LCHOWN.invokeExact(cs, arena.allocateFrom(path), uid, gid);
            if (r != 0) {
                throw new LinuxException("lchown", errno(cs), "lchown " + path);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("lchown downcall failed", t);
        }
    }

    /** {@code chmod(2)}: sets all twelve mode bits (set-uid, set-gid, sticky too) of {@code path}. */
    public static void chmod(String path, int mode) throws LinuxException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            int r = (int) CHMOD.invokeExact(cs, arena.allocateFrom(path), mode & 07777);
            if (r != 0) {
                throw new LinuxException("chmod", errno(cs), "chmod " + path);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("chmod downcall failed", t);
        }
    }

    /** {@code mknod(2)}: a device node or FIFO; {@code mode} includes the file type bits ({@code S_IFCHR} etc.). */
    public static void mknod(String path, int mode, int major, int minor) throws LinuxException {
        long dev = ((long) (major & 0xfffff000) << 32)
                | ((long) (major & 0xfff) << 8)
                | ((long) (minor & 0xffffff00) << 12)
                | (minor & 0xff);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            int r = (int) MKNOD.invokeExact(cs, arena.allocateFrom(path), mode, dev);
            if (r != 0) {
                throw new LinuxException("mknod", errno(cs), "mknod " + path);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("mknod downcall failed", t);
        }
    }

    /** {@code lsetxattr(2)}: sets the extended attribute {@code name} of {@code path}, not following a symlink. */
    public static void lsetxattr(String path, String name, byte[] value) throws LinuxException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cs = allocateCallState(arena);
            MemorySegment v = arena.allocate(Math.max(1, value.length));
            MemorySegment.copy(value, 0, v, JAVA_BYTE, 0, value.length);
            int r = (int) LSETXATTR.invokeExact(
                    cs, arena.allocateFrom(path), arena.allocateFrom(name), v, (long) value.length, 0);
            if (r != 0) {
                throw new LinuxException("lsetxattr", errno(cs), "lsetxattr " + name + " on " + path);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("lsetxattr downcall failed", t);
        }
    }

    /**
     * {@code posix_fadvise(POSIX_FADV_DONTNEED)} over the whole of {@code path}: the kernel drops the file's clean page
     * cache pages that no process maps, so that the next read asks the file system again (on a FUSE mount: the
     * server, whose device may have changed underneath).
     */
    public static void dropPageCache(String path) throws LinuxException {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        try {
            // posix_fadvise returns the error number instead of setting errno.
            int r = (int) POSIX_FADVISE.invokeExact(fd, 0L, 0L, POSIX_FADV_DONTNEED);
            if (r != 0) {
                throw new LinuxException("posix_fadvise", r, "drop the page cache of " + path);
            }
        } catch (LinuxException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError("posix_fadvise downcall failed", t);
        } finally {
            close(fd);
        }
    }

    /** {@code strerror(3)}: the C library's text for {@code errno}. */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            // SAFETY: strerror returns a NUL-terminated string owned by libc, valid until the next call on this
            // thread; it is copied out immediately. 1 KiB bounds the scan.
            return s.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }
}
