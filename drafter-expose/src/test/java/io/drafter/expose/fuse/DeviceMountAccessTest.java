package io.drafter.expose.fuse;

import static io.drafter.expose.fuse.FuseTestSupport.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may open a mount's device files: root and the owner (the mounting user, or the user QEMU runs as), nobody else.
 * Other users run as real processes ({@code setpriv}), so the kernel's checks are what is tested.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DeviceMountAccessTest {
    private static final int MIB = 1 << 20;
    private static final int NOBODY = 65534;
    private static final int OTHER = 65533;

    /** Opens argv[1] for reading, then for writing, and prints what each gave (ok or the errno name). */
    private static final String TRY_OPEN = """
            import os,sys,errno
            p=sys.argv[1]
            def attempt(f):
                try:
                    return f()
                except OSError as e:
                    return errno.errorcode[e.errno]
            def rd():
                fd=os.open(p,os.O_RDONLY)
                try: return 'read:' + os.pread(fd,4,0).hex()
                finally: os.close(fd)
            def wr():
                fd=os.open(p,os.O_WRONLY)
                try: return 'wrote:%d' % os.pwrite(fd,b'PWNED',0)
                finally: os.close(fd)
            print(attempt(rd), attempt(wr))
            """;

    @TempDir
    Path tmp;

    private Path dir;
    /** A python3 that other users can run (root's may be a pyenv shim under /root). */
    private String python;

    @BeforeEach
    void setUp() throws Exception {
        assumeFuse();
        assumePython();
        assumeTrue(Processes.onPath("setpriv"), "needs setpriv (util-linux) to run a process as another user");
        // JUnit's temp directory is 0700: open it up so that another user's failure is the mount's doing.
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        dir = tmp.resolve("mnt");
        for (String candidate : List.of("/usr/bin/python3", "/usr/local/bin/python3")) {
            if (python == null
                    && asUser(NOBODY, NOBODY, candidate, "-c", "pass").exit() == 0) {
                python = candidate;
            }
        }
        assumeTrue(python != null, "needs a python3 that user " + NOBODY + " can run (/usr/bin/python3)");
    }

    @AfterEach
    void noMountsLeft() throws IOException {
        if (Files.exists(tmp)) {
            assertNoMountsUnder(tmp);
        }
    }

    @Test
    void anotherLocalUserCannotReadOrWriteTheDevicesRootStillCan() throws Exception {
        try (MemoryBlockDevice memory = randomDevice("memory", 4 * MIB, 1);
                DeviceMount mount = DeviceMount.mount(dir, Map.of("memory", memory))) {
            byte[] before = range(memory, 0, 8);
            // Control: the other user reaches the mount point's parent, so only the mount can stop it.
            var control = asUser(NOBODY, NOBODY, "test", "-x", tmp.toString());
            assertEquals(0, control.exit(), "the other user cannot even reach " + tmp + ": " + control.output());

            assertEquals("EACCES EACCES\n", python(NOBODY, TRY_OPEN, mount.file("memory")));
            var head =
                    asUser(NOBODY, NOBODY, "head", "-c1", mount.file("memory").toString());
            assertNotEquals(0, head.exit(), head.output());
            assertTrue(head.output().contains("Permission denied"), head.output());
            var dd = asUser(
                    NOBODY,
                    NOBODY,
                    "dd",
                    "if=/dev/zero",
                    "of=" + mount.file("memory"),
                    "bs=4096",
                    "count=1",
                    "conv=notrunc",
                    "status=none");
            assertNotEquals(0, dd.exit(), dd.output());
            assertTrue(dd.output().contains("Permission denied"), dd.output());
            assertEquals(
                    "EACCES\n",
                    python(
                            NOBODY,
                            "import os,sys,errno\ntry:\n    os.listdir(sys.argv[1]); print('listed')\n"
                                    + "except OSError as e: print(errno.errorcode[e.errno])",
                            dir));
            assertArrayEquals(before, range(memory, 0, 8), "the other user's write did not land");

            var stat = Processes.python(
                    "import os,sys\ns=os.stat(sys.argv[1]); print(oct(s.st_mode & 0o7777), s.st_uid)",
                    mount.file("memory"));
            assertEquals("0o600 0\n", stat.output());
            assertEquals("read:" + hex(range(memory, 0, 4)) + " wrote:5\n", python(-1, TRY_OPEN, mount.file("memory")));
            assertArrayEquals("PWNED".getBytes(), range(memory, 0, 5), "root wrote through the mount");
        }
    }

    @Test
    void theOwnerQemuRunsAsCanOpenTheFilesOtherUsersCannot() throws Exception {
        try (MemoryBlockDevice disk = randomDevice("disk", 2 * MIB, 2);
                DeviceMount mount = DeviceMount.mount(
                        dir, Map.of("disk", disk), FuseOptions.defaults().withOwner(NOBODY, NOBODY))) {
            var stat = Processes.python(
                    "import os,sys\ns=os.stat(sys.argv[1]); print(oct(s.st_mode & 0o7777), s.st_uid, s.st_gid)",
                    mount.file("disk"));
            assertEquals("0o600 65534 65534\n", stat.output());
            assertEquals("read:" + hex(range(disk, 0, 4)) + " wrote:5\n", python(NOBODY, TRY_OPEN, mount.file("disk")));
            assertArrayEquals("PWNED".getBytes(), range(disk, 0, 5));
            // Same group as the owner, another uid: still refused (0600, root directory 0700).
            assertEquals("EACCES EACCES\n", pythonAs(OTHER, NOBODY, TRY_OPEN, mount.file("disk")));
            assertEquals("read:" + hex(range(disk, 0, 4)) + " wrote:5\n", python(-1, TRY_OPEN, mount.file("disk")));
        }
    }

    /** Runs {@code program} as {@code uid} (its own group, no supplementary groups); uid -1 runs it as root. */
    private String python(int uid, String program, Object... args) throws Exception {
        return uid < 0 ? Processes.python(program, args).output() : pythonAs(uid, uid, program, args);
    }

    private String pythonAs(int uid, int gid, String program, Object... args) throws Exception {
        String[] command = Processes.pythonCommand(program, args);
        command[0] = python;
        return asUser(uid, gid, command).output();
    }

    private static Processes.Result asUser(int uid, int gid, String... command) throws Exception {
        List<String> cmd =
                new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "--"));
        cmd.addAll(List.of(command));
        return Processes.run(60, cmd.toArray(String[]::new));
    }
}
