package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 1, unit = TimeUnit.MINUTES)
class PackagerCommandTest {
    @TempDir
    Path dir;

    private record Result(int code, String err) {}

    private static Result run(String... args) {
        StringWriter err = new StringWriter();
        var cli = Drafter.commandLine();
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Result(code, err.toString());
    }

    @Test
    void drafterStyleFlagsPackAndExtract() throws Exception {
        byte[] disk = new byte[300_000];
        new Random(5).nextBytes(disk);
        Files.write(dir.resolve("rootfs.ext4"), disk);
        Files.writeString(dir.resolve("vmlinux"), "kernel");
        String pkg = dir.resolve("out/app.tar.zst").toString();
        Result packed = run(
                "packager",
                "-package-path",
                pkg,
                "-devices",
                "[{\"name\":\"kernel\",\"path\":\"" + dir.resolve("vmlinux") + "\"},{\"name\":\"disk\",\"path\":\""
                        + dir.resolve("rootfs.ext4") + "\"}]");
        assertEquals(0, packed.code(), packed.err());
        Result extracted = run(
                "packager",
                "--package-path",
                pkg,
                "--extract=true",
                "--devices",
                "[{\"name\":\"disk\",\"path\":\"" + dir.resolve("x/disk") + "\"},{\"name\":\"kernel\",\"path\":\""
                        + dir.resolve("x/kernel") + "\"}]");
        assertEquals(0, extracted.code(), extracted.err());
        assertArrayEquals(disk, Files.readAllBytes(dir.resolve("x/disk")));
        assertEquals("kernel", Files.readString(dir.resolve("x/kernel")));
    }

    @Test
    void badInputIsOneLineAndNonZero() throws Exception {
        Result json = run(
                "packager",
                "--devices",
                "[{\"name\":",
                "--package-path",
                dir.resolve("p").toString());
        assertEquals(1, json.code());
        assertTrue(json.err().startsWith("drafter: could not parse --devices: "), json.err());
        assertEquals(1, json.err().lines().count(), json.err());

        Files.writeString(dir.resolve("bad.tar.zst"), "garbage");
        Result corrupt = run(
                "packager",
                "-extract",
                "-package-path",
                dir.resolve("bad.tar.zst").toString(),
                "-devices",
                "[{\"name\":\"disk\",\"path\":\"" + dir.resolve("out/disk") + "\"}]");
        assertEquals(1, corrupt.code());
        assertTrue(corrupt.err().startsWith("drafter: could not extract "), corrupt.err());
        assertEquals(1, corrupt.err().lines().count(), corrupt.err());
        assertFalse(Files.exists(dir.resolve("out/disk")));

        Result example =
                run("oci", "example", "nginx", "--output", dir.resolve("o").toString());
        assertEquals(2, example.code());
        assertTrue(example.err().contains("unknown example 'nginx'"), example.err());
    }
}
