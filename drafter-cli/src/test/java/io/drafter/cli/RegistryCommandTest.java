package io.drafter.cli;

import static io.drafter.cli.CliRun.assertOneLine;
import static io.drafter.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code drafter registry}'s bad input: one line naming what was wrong, a non-zero exit, and the package untouched. (A
 * real VM started from a registry: {@code PeerMigrationTest}; the engine: {@code ServeOnlyTest}.)
 */
@Timeout(60)
class RegistryCommandTest {
    @TempDir
    Path dir;

    private String devices() throws Exception {
        Path f = dir.resolve("disk.ext4");
        if (!Files.exists(f)) {
            Files.write(f, new byte[1 << 16]);
        }
        return "[{\"name\":\"disk\",\"input\":\"" + f + "\",\"blockSize\":65536}]";
    }

    @Test
    void badDevicesAreNamed() {
        assertOneLine(run("registry", "--devices", "[{"), "devices: not valid JSON");
        assertOneLine(run("registry", "--devices", "[{\"name\":\"disk\"}]"), "input is required");
        assertOneLine(
                run("registry", "--devices", "[{\"name\":\"disk\",\"input\":\"" + dir.resolve("none") + "\"}]"),
                "is not a regular file");
        assertOneLine(
                run("registry", "--devices", "[{\"name\":\"disk\",\"input\":\"" + dir + "\"}]"),
                "is not a regular file");
        assertOneLine(
                run("registry", "--devices", "[{\"name\":\"disk\",\"input\":\"x\",\"blockSize\":1000}]"),
                "power of two");
    }

    @Test
    void badFlagsAreNamed() throws Exception {
        assertOneLine(run("registry", "--devices", devices(), "--laddr", "nohost"), "expected HOST:PORT");
        assertOneLine(run("registry", "--devices", devices(), "--laddr", "127.0.0.1:99999"), "port out of range");
        assertOneLine(run("registry", "--devices", devices(), "--laddr", ""), "--laddr");
        assertOneLine(run("registry", "--devices", devices(), "--concurrency", "0"), "--concurrency");
        assertOneLine(run("registry", "--devices", devices(), "--concurrency", "5000"), "--concurrency");
        assertOneLine(run("registry", "--devices", devices(), "--drain-timeout", "soon"), "--drain-timeout", "2");
    }

    @Test
    void aTakenPortIsNamedAndThePackageStaysAsItWas() throws Exception {
        String devices = devices();
        long modified = Files.getLastModifiedTime(dir.resolve("disk.ext4")).toMillis();
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            String[] r = run(
                    "registry",
                    "--devices",
                    devices,
                    "--laddr",
                    "127.0.0.1:" + taken.getLocalPort(),
                    "--insecure-plain-tcp");
            assertOneLine(r, "could not listen on");
        }
        assertEquals(
                modified, Files.getLastModifiedTime(dir.resolve("disk.ext4")).toMillis());
    }
}
