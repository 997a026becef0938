package io.drafter.linux.fuse;

import io.drafter.linux.Errno;
import io.drafter.linux.Libc;
import io.drafter.linux.LinuxException;
import java.lang.foreign.MemorySegment;

/**
 * An open {@code /dev/fuse} descriptor: one FUSE connection, read for requests and written with replies.
 *
 * <p>Mounting passes {@link #fd()} to {@code mount(2)} as {@code fd=N}. Each request is read whole by one
 * {@link #read}; each reply is one {@link #write} (or {@link #writev}), identified by the request's {@code unique} id,
 * so replies may be sent in any order from any thread.
 *
 * <p><b>Note:</b> thread-safe: any number of threads may read and write concurrently, each with its own call-state
 * segment ({@link Libc#allocateCallState}). {@link #close()} is idempotent; close only after the readers stopped.
 */
public final class FuseDevice implements AutoCloseable {
    private final int fd;
    private volatile boolean closed;

    private FuseDevice(int fd) {
        this.fd = fd;
    }

    /** Opens a new FUSE connection ({@code open("/dev/fuse", O_RDWR|O_CLOEXEC)}). */
    public static FuseDevice open() throws LinuxException {
        return new FuseDevice(Libc.open("/dev/fuse", Libc.O_RDWR | Libc.O_CLOEXEC));
    }

    /** The descriptor, for the {@code fd=} mount option. */
    public int fd() {
        return fd;
    }

    /**
     * Blocks until the kernel hands over one request and reads it into {@code buf}.
     *
     * @return the request's length in bytes, or {@code -1} once the connection is gone ({@code ENODEV}: unmounted or
     *     aborted)
     * @throws LinuxException on any other failure ({@code EINTR} and {@code ENOENT}, an interrupted request, are
     *     retried)
     */
    public int read(MemorySegment buf, MemorySegment callState) throws LinuxException {
        while (true) {
            long n = Libc.readRaw(callState, fd, buf, buf.byteSize());
            if (n >= 0) {
                return (int) n;
            }
            int errno = Libc.errno(callState);
            switch (errno) {
                case Errno.EINTR, Errno.ENOENT, Errno.EAGAIN -> {}
                case Errno.ENODEV -> {
                    return -1;
                }
                default -> throw new LinuxException("read", errno, "read a request from /dev/fuse (fd " + fd + ")");
            }
        }
    }

    /**
     * Writes one reply of {@code lengthBytes} from the start of {@code reply}.
     *
     * @return {@code false} if the kernel no longer waits for it (the request was interrupted: {@code ENOENT}, or the
     *     connection is gone: {@code ENODEV})
     */
    public boolean write(MemorySegment reply, long lengthBytes, MemorySegment callState) throws LinuxException {
        long n = Libc.writeRaw(callState, fd, reply, lengthBytes);
        return n >= 0 || replyLost(Libc.errno(callState));
    }

    /** Writes one reply gathered from {@code iovcnt} iovecs at {@code iov}; see {@link #write}. */
    public boolean writev(MemorySegment iov, int iovcnt, MemorySegment callState) throws LinuxException {
        long n = Libc.writevRaw(callState, fd, iov, iovcnt);
        return n >= 0 || replyLost(Libc.errno(callState));
    }

    private boolean replyLost(int errno) throws LinuxException {
        if (errno == Errno.ENOENT || errno == Errno.ENODEV) {
            return false;
        }
        throw new LinuxException("write", errno, "write a reply to /dev/fuse (fd " + fd + ")");
    }

    @Override
    public synchronized void close() throws LinuxException {
        if (!closed) {
            closed = true;
            Libc.close(fd);
        }
    }
}
