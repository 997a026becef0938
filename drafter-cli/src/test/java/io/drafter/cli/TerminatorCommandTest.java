package io.drafter.cli;

import static io.drafter.cli.CliRun.assertOneLine;
import static io.drafter.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code drafter terminator}'s bad input: one line naming what was wrong, a non-zero exit, nothing written. (A real
 * migration into files, and the package it leaves resuming: {@code PeerMigrationTest}.)
 */
@Timeout(60)
class TerminatorCommandTest {
    @TempDir
    Path dir;

    private String devices() {
        return "[{\"name\":\"memory\",\"output\":\"" + dir.resolve("out/memory.bin") + "\"}]";
    }

    @Test
    void badDevicesAreNamed() {
        assertOneLine(run("terminator", "--devices", "[{"), "devices: not valid JSON");
        assertOneLine(run("terminator", "--devices", "[{\"name\":\"memory\"}]"), "output is required");
        assertOneLine(
                run("terminator", "--devices", "[{\"name\":\"memory\",\"output\":\"" + dir + "\"}]"), "is a directory");
    }

    @Test
    void badAddressesAreNamed() {
        assertOneLine(run("terminator", "--devices", devices(), "--raddr", "nohost"), "expected HOST:PORT");
        assertOneLine(run("terminator", "--devices", devices(), "--raddr", "127.0.0.1:99999"), "port out of range");
        assertOneLine(run("terminator", "--devices", devices(), "--raddr", ""), "--raddr");
    }

    @Test
    void aMissingOrSharedTokenFileIsRefused() throws Exception {
        assertOneLine(
                run(
                        "terminator",
                        "--devices",
                        devices(),
                        "--token-file",
                        dir.resolve("none").toString()),
                "no such file");
        Path shared = dir.resolve("token");
        Files.writeString(shared, "a-token-that-is-long-enough-0123456789\n");
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rw-r--r--"));
        assertOneLine(run("terminator", "--devices", devices(), "--token-file", shared.toString()), "chmod");
    }

    @Test
    void aPeerThatIsNotThereLeavesNothingBehind() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        String[] r = run("terminator", "--devices", devices(), "--raddr", "127.0.0.1:" + port, "--insecure-plain-tcp");
        assertEquals("1", r[0], r[1]);
        assertTrue(r[1].contains("drafter: "), r[1]);
        assertFalse(Files.exists(dir.resolve("out")), "nothing written");
    }
}
