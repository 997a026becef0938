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

    @Test
    void seekFindsDataAndHolesAndSaysMinusOneAfterTheLastData() throws Exception {
        Path f = tmp.resolve("sparse");
        try (var ch = java.nio.channels.FileChannel.open(
                f, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {1}), 1 << 20);
        }
        int fd = Libc.open(f.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            long data = Libc.seek(fd, 0, Libc.SEEK_DATA, f.toString());
            assertTrue(data >= 0 && data <= 1 << 20, "data at " + data);
            assertTrue(Libc.seek(fd, 0, Libc.SEEK_HOLE, f.toString()) >= 0);
            assertEquals(-1, Libc.seek(fd, (1 << 20) + 1, Libc.SEEK_DATA, f.toString()), "ENXIO: no data after");
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void chmodSetsAllTwelveBitsAndMknodMakesAFifo() throws Exception {
        Path d = java.nio.file.Files.createDirectory(tmp.resolve("d"));
        Libc.chmod(d.toString(), 01777);
        assertEquals(01777, (int) java.nio.file.Files.getAttribute(d, "unix:mode") & 07777);
        Path fifo = tmp.resolve("fifo");
        Libc.mknod(fifo.toString(), 0010000 | 0600, 0, 0);
        assertTrue(java.nio.file.Files.readAttributes(
                        fifo,
                        java.nio.file.attribute.BasicFileAttributes.class,
                        java.nio.file.LinkOption.NOFOLLOW_LINKS)
                .isOther());
        int uid = (int) java.nio.file.Files.getAttribute(fifo, "unix:uid");
        int gid = (int) java.nio.file.Files.getAttribute(fifo, "unix:gid");
        Libc.lchown(fifo.toString(), uid, gid);
    }

    @Test
    void aRefusedCallHasAShortFormForUsersFiles() {
        Path f = tmp.resolve("missing");
        var e = assertThrows(LinuxException.class, () -> Libc.chmod(f.toString(), 0644));
        assertEquals("chmod " + f, e.step());
        assertEquals("could not chmod " + f + " (ENOENT)", e.shortMessage());
        assertEquals(
                "could not x (EOPNOTSUPP: not supported by this file system or kernel)",
                new LinuxException("lsetxattr", Errno.EOPNOTSUPP, "x").shortMessage());
        assertEquals("ENXIO", Errno.name(Errno.ENXIO));
        assertEquals("ENAMETOOLONG", Errno.name(36));
    }
}
