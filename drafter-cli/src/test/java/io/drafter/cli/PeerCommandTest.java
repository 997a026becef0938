package io.drafter.cli;

import static io.drafter.cli.CliRun.assertOneLine;
import static io.drafter.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.cli.lab.DrafterProcess;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class PeerCommandTest {
    @TempDir
    Path dir;

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
                "device \"memory\": blockSize must be a power of two, got 1000");
        assertOneLine(run("peer", "--raddr", "", "--laddr", "", "--devices", "[{"), "devices: not valid JSON");
    }

    @Test
    void migrationWithoutTokenTlsOrExplicitPlainTcpIsRefused() throws Exception {
        // A child process whose default token file is one that does not exist: a host where drafter ran before has
        // /var/lib/drafter/migration.token, which a destination would use.
        try (DrafterProcess p = DrafterProcess.start(
                "peer",
                dir.resolve("peer.log"),
                List.of(
                        "peer",
                        "--raddr",
                        "127.0.0.1:1",
                        "--laddr",
                        "",
                        "--devices",
                        "[{\"name\":\"m\",\"base\":\"m\"}]"),
                Map.of("DRAFTER_TOKEN_FILE", dir.resolve("no-such.token").toString()),
                null)) {
            assertEquals(1, p.waitExit(Duration.ofSeconds(50)), p.output());
            List<String> lines = p.output().lines().toList();
            assertEquals(1, lines.size(), p.output());
            assertTrue(lines.getFirst().startsWith("drafter: could not secure the migration: "), p.output());
            assertTrue(lines.getFirst().contains(dir.resolve("no-such.token").toString()), p.output());
        }
        assertFalse(Files.exists(dir.resolve("no-such.token")), "a destination creates no token");
    }

    @Test
    void incompleteTlsFlagsAreRefused() throws Exception {
        Path cert = Files.writeString(dir.resolve("cert.pem"), "x");
        assertOneLine(
                run("peer", "--tls-cert", cert.toString(), "--devices", "[{\"name\":\"m\",\"base\":\"m\"}]"),
                "--tls-cert, --tls-key and --tls-ca go together");
    }

    @Test
    void unreachableRaddrIsAClearError() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there now
        }
        Path token = privateTokenFile(dir.resolve("token"), "0123456789abcdef0123456789abcdef");
        String[] r = run(
                "peer",
                "--raddr",
                "127.0.0.1:" + port,
                "--laddr",
                "",
                "--netns",
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
                "could not open device \"memory\": base " + dir.resolve("missing.bin") + " does not exist");
    }

    /** Devices whose base files exist, with copy-on-write files under {@code cow} that a resume would create. */
    private String devicesThatWouldResume(Path cow) throws Exception {
        StringBuilder json = new StringBuilder("[");
        for (String name : new String[] {"state", "memory", "kernel", "config"}) {
            Path base = Files.writeString(dir.resolve(name + ".bin"), "x");
            json.append(json.length() > 1 ? "," : "")
                    .append("{\"name\":\"")
                    .append(name)
                    .append("\",\"base\":\"")
                    .append(base)
                    .append("\",\"overlay\":\"")
                    .append(cow.resolve(name + ".overlay"))
                    .append("\",\"state\":\"")
                    .append(cow.resolve(name + ".state"))
                    .append("\"}");
        }
        return json.append(']').toString();
    }

    /** Runs a local peer with {@code flags} that must fail before anything is created or resumed. */
    private void assertRefusedBeforeResume(String contains, String... flags) throws Exception {
        Path cow = dir.resolve("cow");
        Path vms = dir.resolve("vms");
        Path tokenFile = privateTokenFile(dir.resolve("token"), "0123456789abcdef0123456789abcdef");
        java.util.List<String> given = java.util.List.of(flags);
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(
                "peer", "--raddr", "", "--chroot-base-dir", vms.toString(), "--devices", devicesThatWouldResume(cow)));
        if (!given.contains("--netns")) {
            args.addAll(java.util.List.of("--netns", ""));
        }
        if (!given.contains("--token-file")) {
            args.addAll(java.util.List.of("--token-file", tokenFile.toString()));
        }
        args.addAll(given);
        assertOneLine(run(args.toArray(String[]::new)), contains);
        assertFalse(Files.exists(cow), "no copy-on-write file was created");
        assertFalse(Files.exists(vms.resolve("qemu")), "no instance directory was created");
    }

    @Test
    void aPortOutOfRangeIsRefusedBeforeTheVmResumes() throws Exception {
        assertRefusedBeforeResume(
                "could not use --laddr 127.0.0.1:99999: port out of range", "--laddr", "127.0.0.1:99999");
    }

    @Test
    void aPortInUseIsRefusedBeforeTheVmResumes() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            assertRefusedBeforeResume(
                    "could not listen on /127.0.0.1:" + taken.getLocalPort(),
                    "--laddr",
                    "127.0.0.1:" + taken.getLocalPort());
        }
    }

    @Test
    void aMetricsPortInUseIsRefusedBeforeTheVmResumes() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            assertRefusedBeforeResume(
                    "127.0.0.1:" + taken.getLocalPort(),
                    "--laddr",
                    "",
                    "--metrics",
                    "127.0.0.1:" + taken.getLocalPort());
        }
    }

    @Test
    void aMissingNamespaceIsRefusedBeforeTheVmResumes() throws Exception {
        assertRefusedBeforeResume(
                "could not use --netns drafter-no-such-ns: /var/run/netns/drafter-no-such-ns does not exist",
                "--laddr",
                "",
                "--netns",
                "drafter-no-such-ns");
    }

    @Test
    void aMissingTokenFileIsNamed() throws Exception {
        Path missing = dir.resolve("no-such-token");
        assertRefusedBeforeResume(
                "could not read --token-file " + missing + ": no such file",
                "--laddr",
                "127.0.0.1:0",
                "--token-file",
                missing.toString());
    }

    /** A token file made as docs/peer.md says: private to its owner. */
    static Path privateTokenFile(Path file, String token) throws java.io.IOException {
        Files.writeString(file, token);
        Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    @Test
    void aTokenFileOthersCanReadIsRefusedWithTheChmodThatFixesIt() throws Exception {
        Path shared = Files.writeString(dir.resolve("shared-token"), "0123456789abcdef0123456789abcdef");
        Files.setPosixFilePermissions(shared, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        assertRefusedBeforeResume(
                "could not use token file " + shared
                        + ": it is readable or writable by group or others (mode 0644); make it private with: chmod 600 "
                        + shared,
                "--laddr",
                "127.0.0.1:0",
                "--token-file",
                shared.toString());
    }

    @Test
    void anUnresolvableHostIsRefusedBeforeTheVmResumes() throws Exception {
        assertRefusedBeforeResume(
                "could not use --laddr no-such-host.invalid:1337: the host name does not resolve",
                "--laddr",
                "no-such-host.invalid:1337");
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
