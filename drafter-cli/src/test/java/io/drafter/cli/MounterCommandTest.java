package io.drafter.cli;

import static io.drafter.cli.CliRun.assertOneLine;
import static io.drafter.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.cli.lab.DrafterProcess;
import io.drafter.expose.fuse.DeviceMount;
import io.drafter.migration.transport.SharedToken;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code drafter mounter}: bad input is one line naming what was wrong, a non-zero exit, and nothing left behind (no
 * mount, no created file or directory); then two mounter processes moving a disk written with {@code dd}, and a
 * SIGTERM that unmounts and keeps the data. (The migration under concurrent writers, the freeze and a destination lost
 * before the grant: {@code MounterTest} in drafter-peer.)
 */
@Timeout(120)
class MounterCommandTest {
    @TempDir
    Path dir;

    /** A mounter process killed by a failing test leaves a stale mount: remove it, so the temporary directory goes. */
    @AfterEach
    void removeStaleMounts() throws IOException {
        for (String m : List.of("a-mnt", "b-mnt", "mnt")) {
            Path p = dir.resolve(m);
            if (Files.readString(Path.of("/proc/mounts")).contains(" " + p + " ")) {
                DeviceMount.cleanStale(p);
            }
        }
    }

    private Path base() throws IOException {
        Path b = dir.resolve("disk.img");
        if (!Files.exists(b)) {
            Files.write(b, new byte[1 << 20]);
        }
        return b;
    }

    /** A device over {@link #base()} with copy-on-write files in {@code dir/cow} (which does not exist). */
    private String devices() throws IOException {
        return "[{\"name\":\"disk\",\"base\":\"" + base() + "\",\"overlay\":\"" + dir.resolve("cow/disk.overlay")
                + "\",\"state\":\"" + dir.resolve("cow/disk.state") + "\"}]";
    }

    private String mountDir() {
        return dir.resolve("mnt").toString();
    }

    /** Nothing but the base (and what the test itself made) is left in {@link #dir}. */
    private void assertNothingLeft() throws IOException {
        assertFalse(Files.exists(dir.resolve("cow")), "no overlay or state file");
        assertFalse(Files.exists(dir.resolve("mnt")), "no mount directory");
        assertFalse(Files.readString(Path.of("/proc/mounts")).contains(dir.toString()), "no mount");
    }

    @Test
    void badDevicesAreNamed() throws IOException {
        assertOneLine(run("mounter", "--devices", "[{", "--mount-dir", mountDir()), "devices: not valid JSON");
        assertOneLine(
                run("mounter", "--devices", "[{\"name\":\"disk\"}]", "--mount-dir", mountDir()), "base is required");
        assertOneLine(
                run(
                        "mounter",
                        "--devices",
                        "[{\"name\":\"disk\",\"base\":\"" + dir.resolve("none.img") + "\",\"overlay\":\""
                                + dir.resolve("cow/o") + "\",\"state\":\"" + dir.resolve("cow/s") + "\"}]",
                        "--raddr",
                        "",
                        "--laddr",
                        "",
                        "--mount-dir",
                        mountDir()),
                "none.img does not exist");
        assertNothingLeft();
    }

    @Test
    void badAddressesAreNamed() throws IOException {
        assertOneLine(run("mounter", "--devices", devices(), "--raddr", "nohost"), "expected HOST:PORT");
        assertOneLine(
                run("mounter", "--devices", devices(), "--raddr", "", "--laddr", "1.2.3.4:99999"), "out of range");
        assertOneLine(
                run(
                        "mounter",
                        "--devices",
                        "[{\"name\":\"disk\",\"base\":\"" + base() + "\",\"shared\":true}]",
                        "--raddr",
                        "",
                        "--laddr",
                        "127.0.0.1:0",
                        "--mount-dir",
                        mountDir()),
                "no device of --devices can be migrated");
        assertNothingLeft();
    }

    @Test
    void aMountDirectoryThatIsNotEmptyIsRefused() throws IOException {
        Path full = Files.createDirectories(dir.resolve("full"));
        Files.writeString(full.resolve("keep"), "x");
        assertOneLine(
                run("mounter", "--devices", devices(), "--raddr", "", "--laddr", "", "--mount-dir", full.toString()),
                "not empty");
        Path file = Files.writeString(dir.resolve("file"), "x");
        assertOneLine(
                run("mounter", "--devices", devices(), "--raddr", "", "--laddr", "", "--mount-dir", file.toString()),
                "not a directory");
        assertNothingLeft();
        assertEquals(List.of(full.resolve("keep")), Files.list(full).toList());
    }

    @Test
    void aMissingOrSharedTokenFileIsRefused() throws Exception {
        assertOneLine(
                run(
                        "mounter",
                        "--devices",
                        devices(),
                        "--raddr",
                        "",
                        "--token-file",
                        dir.resolve("none").toString(),
                        "--mount-dir",
                        mountDir()),
                "no such file");
        Path shared = dir.resolve("token");
        Files.writeString(shared, "a-token-that-is-long-enough-0123456789\n");
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rw-r--r--"));
        assertOneLine(
                run(
                        "mounter",
                        "--devices",
                        devices(),
                        "--raddr",
                        "",
                        "--token-file",
                        shared.toString(),
                        "--mount-dir",
                        mountDir()),
                "chmod");
        assertNothingLeft();
    }

    @Test
    void aPortInUseOrAnAbsentSourceLeavesNothingBehind() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            assertOneLine(
                    run(
                            "mounter",
                            "--devices",
                            devices(),
                            "--raddr",
                            "",
                            "--laddr",
                            "127.0.0.1:" + taken.getLocalPort(),
                            "--insecure-plain-tcp",
                            "--mount-dir",
                            mountDir()),
                    "Address already in use");
        }
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        String in = "[{\"name\":\"disk\",\"base\":\"" + dir.resolve("in/disk.img") + "\"}]";
        String[] r = run(
                "mounter",
                "--devices",
                in,
                "--raddr",
                "127.0.0.1:" + port,
                "--laddr",
                "",
                "--insecure-plain-tcp",
                "--mount-dir",
                mountDir());
        assertOneLine(r, "nothing was mounted here");
        assertFalse(Files.exists(dir.resolve("in")));
        assertNothingLeft();
    }

    /**
     * Two mounter processes: A serves a file-backed disk (copy-on-write), {@code dd} writes into A's file, B migrates
     * the disk in (its base does not exist yet), A exits 0 saying where the disk went and unmounts; {@code dd} reads
     * B's file back, and a SIGTERM stops B with exit 0, unmounted, the data in its file.
     */
    @Test
    void twoMounterProcessesMoveADiskWrittenWithDd() throws Exception {
        assumeTrue(
                Files.isReadable(Path.of("/dev/fuse")) && "root".equals(System.getProperty("user.name")),
                "needs root and /dev/fuse");
        Path token = dir.resolve("token");
        SharedToken.createFile(token);
        byte[] initial = new byte[4 << 20];
        new Random(1).nextBytes(initial);
        Path aBase = dir.resolve("a/disk.img");
        Files.createDirectories(aBase.getParent());
        Files.write(aBase, initial);
        String aDevices =
                "[{\"name\":\"disk\",\"base\":\"" + aBase + "\",\"overlay\":\"" + dir.resolve("a/disk.overlay")
                        + "\",\"state\":\"" + dir.resolve("a/disk.state") + "\",\"minCycles\":1,\"maxCycles\":3,"
                        + "\"cycleThrottle\":\"50ms\"}]";
        Path bBase = dir.resolve("b/disk.img");
        String bDevices = "[{\"name\":\"disk\",\"base\":\"" + bBase + "\"}]";
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path aMount = dir.resolve("a-mnt");
        Path bMount = dir.resolve("b-mnt");
        byte[] patch = new byte[64 << 10];
        new Random(2).nextBytes(patch);
        Path patchFile = Files.write(dir.resolve("patch"), patch);
        try (DrafterProcess a = DrafterProcess.start(
                "mounter A",
                dir.resolve("a.log"),
                List.of(
                        "mounter",
                        "--devices",
                        aDevices,
                        "--raddr",
                        "",
                        "--laddr",
                        "127.0.0.1:" + port,
                        "--token-file",
                        token.toString(),
                        "--mount-dir",
                        aMount.toString()))) {
            a.await("Listening for connections on", Duration.ofSeconds(60));
            assertTrue(a.output().contains("Mounted device disk on " + aMount.resolve("disk")), a.output());
            dd("if=" + patchFile, "of=" + aMount.resolve("disk"), "bs=64k", "seek=3", "conv=notrunc");
            byte[] expected = initial.clone();
            System.arraycopy(patch, 0, expected, 3 * patch.length, patch.length);

            try (DrafterProcess bp = DrafterProcess.start(
                    "mounter B",
                    dir.resolve("b.log"),
                    List.of(
                            "mounter",
                            "--devices",
                            bDevices,
                            "--raddr",
                            "127.0.0.1:" + port,
                            "--laddr",
                            "",
                            "--token-file",
                            token.toString(),
                            "--mount-dir",
                            bMount.toString()))) {
                bp.await("Serving; press Ctrl-C", Duration.ofSeconds(60));
                assertEquals(0, a.waitExit(Duration.ofSeconds(30)), a.tail());
                assertTrue(a.output().contains("the devices are at 127.0.0.1:"), a.tail());
                assertFalse(Files.exists(aMount), "A unmounted and removed its mount directory");
                assertTrue(bp.output().contains("Mounted device disk on " + bMount.resolve("disk")), bp.output());
                Path copy = dir.resolve("copy");
                dd("if=" + bMount.resolve("disk"), "of=" + copy, "bs=1M");
                assertArrayEquals(expected, Files.readAllBytes(copy), "B's file holds what was written at A");

                bp.signal("TERM");
                assertEquals(0, bp.waitExit(Duration.ofSeconds(30)), bp.tail());
                assertTrue(bp.output().contains("unmounted " + bMount), bp.tail());
                assertFalse(Files.exists(bMount));
                assertArrayEquals(expected, Files.readAllBytes(bBase), "the data is in B's file");
                assertArrayEquals(initial, Files.readAllBytes(aBase), "A wrote only to its overlay");
            }
        }
    }

    private static void dd(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of("dd", "status=none"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "dd " + String.join(" ", args) + ": " + out);
    }
}
