package io.drafter.pkg;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * The few Linux calls the packager and the OCI unpacker need that the JDK does not offer: hole-aware
 * seeking, ownership of symlinks, full mode bits (set-uid, sticky), device nodes and extended attributes.
 *
 * <p>One static holder of method handles, resolved once; every failure is an {@link IOException} naming
 * the call, the errno and the path. Thread-safe: the calls are stateless.
 */
public final class Posix {
    /** {@code lseek} whence: the next offset holding data. */
    public static final int SEEK_DATA = 3;
    /** {@code lseek} whence: the next hole (the end of the file counts as one). */
    public static final int SEEK_HOLE = 4;

    static final int ENXIO = 6;
    static final int EOPNOTSUPP = 95;
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 0x80000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");

    private static final MethodHandle OPEN =
            handle("open", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOSE =
            handle("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle LSEEK = handle(
            "lseek",
            FunctionDescriptor.of(
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final MethodHandle LCHOWN = handle(
            "lchown",
            FunctionDescriptor.of(
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle CHMOD =
            handle("chmod", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle MKNOD = handle(
            "mknod",
            FunctionDescriptor.of(
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle LSETXATTR = handle(
            "lsetxattr",
            FunctionDescriptor.of(
                    ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS,
                    ValueLayout.ADDRESS,
                    ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_INT));

    private Posix() {}

    private static MethodHandle handle(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol =
                LINKER.defaultLookup().find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor, CAPTURE);
    }

    private static IOException failure(String call, MemorySegment state, Path path) {
        int errno = (int) ERRNO.get(state, 0L);
        String hint = errno == EOPNOTSUPP ? ": not supported by this file system or kernel" : "";
        return new IOException("could not " + call + " " + path + " (" + Errno.name(errno) + hint + ")");
    }

    /** Opens {@code path} read-only and returns the file descriptor; the caller closes it. */
    public static int openReadOnly(Path path) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path.toString()), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                throw failure("open", state, path);
            }
            return fd;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Closes a descriptor returned by {@link #openReadOnly}; errors are ignored (read-only descriptor). */
    public static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) CLOSE.invokeExact(arena.allocate(CALL_STATE), fd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Seeks with {@code whence} ({@link #SEEK_DATA} or {@link #SEEK_HOLE}); returns the offset, or -1 when
     * there is no data at or after {@code offset} (ENXIO).
     */
    public static long seek(int fd, long offset, int whence, Path path) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long r = (long) LSEEK.invokeExact(state, fd, offset, whence);
            if (r < 0) {
                if ((int) ERRNO.get(state, 0L) == ENXIO) {
                    return -1;
                }
                throw failure("lseek", state, path);
            }
            return r;
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Sets the owner of {@code path} without following a symlink there. */
    public static void lchown(Path path, int uid, int gid) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) LCHOWN.invokeExact(state, arena.allocateFrom(path.toString()), uid, gid);
            if (r != 0) {
                throw failure("lchown", state, path);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Sets all twelve mode bits (including set-uid, set-gid, sticky) of {@code path}, which is no symlink. */
    public static void chmod(Path path, int mode) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) CHMOD.invokeExact(state, arena.allocateFrom(path.toString()), mode & 07777);
            if (r != 0) {
                throw failure("chmod", state, path);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Creates a device node or FIFO; {@code mode} includes the file type bits ({@code S_IFCHR} etc.). */
    public static void mknod(Path path, int mode, int major, int minor) throws IOException {
        long dev = ((long) (major & 0xfffff000) << 32)
                | ((long) (major & 0xfff) << 8)
                | ((long) (minor & 0xffffff00) << 12)
                | (minor & 0xff);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int r = (int) MKNOD.invokeExact(state, arena.allocateFrom(path.toString()), mode, dev);
            if (r != 0) {
                throw failure("mknod", state, path);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Sets the extended attribute {@code name} of {@code path} without following a symlink there. */
    public static void lsetxattr(Path path, String name, byte[] value) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment v = arena.allocate(Math.max(1, value.length));
            MemorySegment.copy(value, 0, v, ValueLayout.JAVA_BYTE, 0, value.length);
            int r = (int) LSETXATTR.invokeExact(
                    state, arena.allocateFrom(path.toString()), arena.allocateFrom(name), v, (long) value.length, 0);
            if (r != 0) {
                throw failure("lsetxattr " + name + " on", state, path);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Names of the errno values these calls report. */
    static final class Errno {
        private Errno() {}

        static String name(int errno) {
            return switch (errno) {
                case 1 -> "EPERM";
                case 2 -> "ENOENT";
                case 5 -> "EIO";
                case 6 -> "ENXIO";
                case 7 -> "E2BIG";
                case 9 -> "EBADF";
                case 13 -> "EACCES";
                case 17 -> "EEXIST";
                case 20 -> "ENOTDIR";
                case 21 -> "EISDIR";
                case 22 -> "EINVAL";
                case 28 -> "ENOSPC";
                case 30 -> "EROFS";
                case 34 -> "ERANGE";
                case 36 -> "ENAMETOOLONG";
                case 40 -> "ELOOP";
                case 61 -> "ENODATA";
                case 95 -> "EOPNOTSUPP";
                default -> "errno " + errno;
            };
        }
    }
}
