package io.drafter.pkg.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.drafter.pkg.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Builds the Redis example image from Debian packages and runs its redis-server under chroot. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RedisExampleTest {
    @TempDir
    Path dir;

    @Test
    void exampleImageRunsRedisServerAndBecomesABundle() throws Exception {
        assumeTrue(OciBuilder.isRoot(), "needs root: dpkg -x ownership and chroot");
        assumeTrue(
                OciBuildTest.onPath("apt-get") && OciBuildTest.onPath("dpkg") && OciBuildTest.onPath("chroot"),
                "needs apt-get, dpkg and chroot (Debian)");
        Path layout = dir.resolve("redis-oci");
        List<String> packages;
        try {
            packages = RedisExample.build(layout);
        } catch (IOException e) {
            assumeTrue(
                    !e.getMessage().contains("could not download")
                            && !e.getMessage().contains("could not resolve"),
                    "no Debian apt source reachable: " + e.getMessage());
            throw e;
        }
        assertTrue(
                packages.containsAll(List.of("redis-server", "redis-tools", "libc6", "libssl3", "libjemalloc2")),
                packages.toString());
        assertTrue(packages.stream().noneMatch(p -> p.equals("adduser") || p.equals("lsb-base")), packages.toString());

        // the image as the guest will see it: unpack the layout's layers into a fresh rootfs and chroot into it
        OciImage image = OciImage.open(layout, Platform.host(), dir.resolve("scratch"));
        assertEquals(1, image.layers().size());
        assertEquals(List.of("/usr/bin/redis-server"), image.config().entrypoint());
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        OciBuilder.unpack(image, rootfs, Progress.NONE);
        String version = RedisExample.verify(rootfs);
        assertTrue(version.startsWith("Redis server v="), version);

        Path ext4 = dir.resolve("oci.ext4");
        OciBuilder.build(layout, ext4, Platform.host(), Progress.NONE);
        JsonNode cfg = OciImage.JSON.readTree(OciBuildTest.debugfs(ext4, "cat /config.json"));
        JsonNode args = cfg.path("process").path("args");
        assertEquals("/usr/bin/redis-server", args.get(0).asText());
        assertTrue(
                args.toString().contains("\"--bind\",\"0.0.0.0\",\"--protected-mode\",\"no\",\"--save\",\"\""),
                args.toString());
        assertEquals("/data", cfg.path("process").path("cwd").asText());
        assertTrue(
                OciBuildTest.debugfs(ext4, "stat /rootfs/usr/bin/redis-server").contains("Type: symlink"));
        assertTrue(OciBuildTest.debugfs(ext4, "stat /rootfs/usr/bin/redis-check-rdb")
                .contains("Type: regular"));
    }
}
