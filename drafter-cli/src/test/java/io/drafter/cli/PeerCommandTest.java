package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class PeerCommandTest {
    @TempDir
    Path dir;

    private static String[] run(String... args) {
        StringWriter err = new StringWriter();
        var cli = Drafter.commandLine();
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new String[] {Integer.toString(code), err.toString()};
    }

    private static void assertOneLine(String[] r, String code, String contains) {
        assertEquals(code, r[0], r[1]);
        assertTrue(r[1].startsWith("drafter: "), r[1]);
        assertTrue(r[1].contains(contains), r[1]);
        assertEquals(1, r[1].strip().lines().count(), r[1]);
    }

    @Test
    void badDevicesJsonNamesTheDeviceAndField() {
        assertOneLine(
                run(
                        "peer",
                        "--raddr",
                        "",
                        "--laddr",
                        "",
                        "--devices",
                        "[{\"name\":\"memory\",\"base\":\"m\",\"blockSize\":1000}]"),
                "1",
                "device \"memory\": blockSize must be a power of two, got 1000");
        assertOneLine(run("peer", "--raddr", "", "--laddr", "", "--devices", "[{"), "1", "devices: not valid JSON");
    }

    @Test
    void migrationWithoutTokenTlsOrExplicitPlainTcpIsRefused() {
        assertOneLine(
                run("peer", "--raddr", "127.0.0.1:1", "--laddr", "", "--devices", "[{\"name\":\"m\",\"base\":\"m\"}]"),
                "1",
                "could not secure the migration");
    }

    @Test
    void incompleteTlsFlagsAreRefused() throws Exception {
        Path cert = Files.writeString(dir.resolve("cert.pem"), "x");
        assertOneLine(
                run("peer", "--tls-cert", cert.toString(), "--devices", "[{\"name\":\"m\",\"base\":\"m\"}]"),
                "1",
                "--tls-cert, --tls-key and --tls-ca go together");
    }

    @Test
    void unreachableRaddrIsAClearError() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there now
        }
        Path token = Files.writeString(dir.resolve("token"), "0123456789abcdef0123456789abcdef");
        String[] r = run(
                "peer",
                "--raddr",
                "127.0.0.1:" + port,
                "--laddr",
                "",
                "--token-file",
                token.toString(),
                "--chroot-base-dir",
                dir.toString(),
                "--devices",
                "[{\"name\":\"m\",\"base\":\"" + dir.resolve("m") + "\"}]");
        assertEquals("1", r[0], r[1]);
        assertTrue(r[1].contains("127.0.0.1:" + port), r[1]);
        assertFalse(Files.exists(dir.resolve("m")), "nothing created for a migration that never started");
    }

    @Test
    void missingPackageFileIsNamed() {
        assertOneLine(
                run(
                        "peer",
                        "--raddr",
                        "",
                        "--laddr",
                        "",
                        "--netns",
                        "",
                        "--chroot-base-dir",
                        dir.toString(),
                        "--devices",
                        "[{\"name\":\"memory\",\"base\":\"" + dir.resolve("missing.bin") + "\"}]"),
                "1",
                "could not open device \"memory\": base " + dir.resolve("missing.bin") + " does not exist");
    }

    @Test
    void badLaddrIsNamed() {
        assertEquals(
                "could not use --laddr nope: expected HOST:PORT",
                assertThrowsMessage(() -> PeerCommand.address("nope", "--laddr")));
    }

    private static String assertThrowsMessage(Runnable r) {
        try {
            r.run();
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
        throw new AssertionError("no error");
    }
}
