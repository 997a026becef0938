package io.drafter.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LibcTest {
    @TempDir
    Path tmp;

    @Test
    void failedCallNamesTheSyscallTheErrnoAndThePath() {
        Path missing = tmp.resolve("missing");
        var e = assertThrows(LinuxException.class, () -> Libc.open(missing.toString(), Libc.O_RDONLY));
        assertEquals("open", e.syscall());
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals("ENOENT", e.errnoName());
        assertEquals("could not open " + missing + " (ENOENT): No such file or directory [open]", e.getMessage());
    }

    @Test
    void unmountingADirectoryThatIsNoMountPointIsEinvalOrEperm() {
        var e = assertThrows(LinuxException.class, () -> Libc.umount2(tmp.toString(), 0));
        assertTrue(e.errno() == Errno.EINVAL || e.errno() == Errno.EPERM, e.getMessage());
    }

    @Test
    void openReadAndCloseARealFile() throws Exception {
        Path f = tmp.resolve("f");
        java.nio.file.Files.writeString(f, "hello");
        int fd = Libc.open(f.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            var cs = Libc.allocateCallState(arena);
            var buf = arena.allocate(16);
            assertEquals(5, Libc.readRaw(cs, fd, buf, 16));
            assertEquals("hello", buf.getString(0).substring(0, 5));
            assertEquals(-1, Libc.writeRaw(cs, fd, buf, 1));
            assertEquals(Errno.EBADF, Libc.errno(cs));
        } finally {
            Libc.close(fd);
        }
        var e = assertThrows(LinuxException.class, () -> Libc.close(fd));
        assertEquals("EBADF", e.errnoName());
    }

    @Test
    void accessReportsTheErrno() {
        assertEquals(0, Libc.accessErrno(tmp.toString()));
        assertEquals(Errno.ENOENT, Libc.accessErrno(tmp.resolve("nope").toString()));
    }

    @Test
    void unknownErrnoHasANumericName() {
        assertEquals("errno 4000", Errno.name(4000));
        assertEquals("ENOTCONN", Errno.name(107));
    }
}
