package io.drafter.linux;

import java.io.IOException;

/**
 * A failed system call: names the call, the errno (by name and number) and the object it was made on.
 *
 * <p>The message reads {@code could not <step> (<ERRNO>): <strerror>}, e.g. {@code could not mount fuse.drafter at
 * /run/x (EPERM): Operation not permitted}.
 */
public final class LinuxException extends IOException {
    private final String syscall;
    private final int errno;
    private final String step;

    public LinuxException(String syscall, int errno, String step) {
        super("could not " + step + " (" + Errno.name(errno) + "): " + Errno.describe(errno) + " [" + syscall + "]");
        this.syscall = syscall;
        this.errno = errno;
        this.step = step;
    }

    /** What the call was for, e.g. {@code "mount fuse.drafter at /run/x"}. */
    public String step() {
        return step;
    }

    /**
     * The short form of the message, for errors about files a user gave us: {@code could not <step> (<ERRNO>)}, with
     * {@code : not supported by this file system or kernel} after the name for {@link Errno#EOPNOTSUPP}.
     */
    public String shortMessage() {
        String hint = errno == Errno.EOPNOTSUPP ? ": not supported by this file system or kernel" : "";
        return "could not " + step + " (" + Errno.name(errno) + hint + ")";
    }

    /** The system call that failed, e.g. {@code "mount"}. */
    public String syscall() {
        return syscall;
    }

    /** The errno value the call left. */
    public int errno() {
        return errno;
    }

    /** The symbolic name of {@link #errno()}, e.g. {@code "ENOTCONN"}. */
    public String errnoName() {
        return Errno.name(errno);
    }
}
