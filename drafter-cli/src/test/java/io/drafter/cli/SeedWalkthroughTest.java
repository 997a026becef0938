package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import io.drafter.cli.lab.DrafterProcess;
import io.drafter.cli.lab.RedisLab;
import io.drafter.vm.testing.TestGuest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The walkthrough this project follows ({@code seed-tutorial.txt}, steps 3 and 4), its commands as written, in a
 * working directory of their own: extract the blueprint's {@code kernel} and {@code disk} and the Redis {@code oci}
 * disk from packages, snapshot with the walkthrough's device list (no {@code initrd}: the kernel carries it), run the
 * source peer with the walkthrough's full device JSON (nanosecond {@code expiry} and {@code cycleThrottle}) and
 * {@code --laddr ':PORT'} and no security flag (the host's default token then secures it), forward the port with
 * {@code drafter forwarder}, write the walkthrough's keys with {@code redis-cli}, migrate to a second peer, forward the
 * port to it, and read the keys back with {@code redis-cli}.
 *
 * <p>Differences from the text, each forced by running on one host in a test: namespaces of the test's own NAT instead
 * of {@code ark0}/{@code ark1}, free ports instead of 1337 and 3333, the packages made from this project's blueprint
 * instead of downloaded, the token file named by {@code DRAFTER_TOKEN_FILE} instead of the host's default, and the
 * first forwarder stopped before the second starts (on two hosts both would run).
 */
class SeedWalkthroughTest {
    @TempDir
    Path root;

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void theWalkthroughsCommandsMigrateRedisWithItsKeys() throws Exception {
        try (RedisLab lab = RedisLab.create(root.resolve("lab"))) {
            assertTrue(onPath("redis-cli"), "redis-cli (Debian's redis-tools) is installed by scripts/install-deps.sh");
            Path cwd = Files.createDirectories(root.resolve("walkthrough"));
            Map<String, String> env =
                    Map.of("DRAFTER_TOKEN_FILE", root.resolve("migration.token").toString());
            List<DrafterProcess> running = new ArrayList<>();
            int migrationPort = RedisLab.freePort();
            int redisPort = RedisLab.freePort();
            try {
                // "mkdir -p out/blueprint out/package out/instance-0/{overlay,state}"
                for (String d :
                        List.of("out/blueprint", "out/package", "out/instance-0/overlay", "out/instance-0/state")) {
                    Files.createDirectories(cwd.resolve(d));
                }
                // The downloads of the walkthrough, made here from this project's blueprint and Redis disk.
                Path bp = TestGuest.blueprint();
                run(
                        cwd,
                        env,
                        "pack",
                        "packager",
                        "--package-path",
                        "out/drafteros-oci.tar.zst",
                        "--devices",
                        "[{\"name\":\"kernel\",\"path\":\"" + bp.resolve("vmlinux") + "\"},"
                                + "{\"name\":\"disk\",\"path\":\"" + bp.resolve("rootfs.ext4") + "\"}]");
                run(
                        cwd,
                        env,
                        "pack-oci",
                        "packager",
                        "--package-path",
                        "out/oci-valkey.tar.zst",
                        "--devices",
                        "[{\"name\":\"oci\",\"path\":\"" + bp.resolve("oci-redis.ext4") + "\"}]");
                // Step 3, as written.
                run(
                        cwd,
                        env,
                        "extract",
                        "packager",
                        "--package-path",
                        "out/drafteros-oci.tar.zst",
                        "--extract",
                        "--devices",
                        """
                        [
                          {
                            "name": "kernel",
                            "path": "out/blueprint/vmlinux"
                          },
                          {
                            "name": "disk",
                            "path": "out/blueprint/rootfs.ext4"
                          }
                        ]""");
                run(
                        cwd,
                        env,
                        "extract-oci",
                        "packager",
                        "--package-path",
                        "out/oci-valkey.tar.zst",
                        "--extract",
                        "--devices",
                        """
                        [
                          {
                            "name": "oci",
                            "path": "out/blueprint/oci.ext4"
                          }
                        ]""");
                // Step 4, the source.
                run(
                        cwd,
                        env,
                        "snapshotter",
                        "snapshotter",
                        "--netns",
                        lab.namespace(0),
                        "--cpu-template",
                        "T2",
                        "--devices",
                        """
                        [
                          {"name": "state", "output": "out/package/state.bin"},
                          {"name": "memory", "output": "out/package/memory.bin"},
                          {"name": "kernel", "input": "out/blueprint/vmlinux", "output": "out/package/vmlinux"},
                          {"name": "disk", "input": "out/blueprint/rootfs.ext4", "output": "out/package/rootfs.ext4"},
                          {"name": "config", "output": "out/package/config.json"},
                          {"name": "oci", "input": "out/blueprint/oci.ext4", "output": "out/package/oci.ext4"}
                        ]""");
                DrafterProcess source = start(
                        running,
                        cwd,
                        env,
                        "peer-0",
                        "peer",
                        "--netns",
                        lab.namespace(0),
                        "--raddr",
                        "",
                        "--laddr",
                        ":" + migrationPort,
                        "--devices",
                        walkthroughDevices(0));
                source.await("Listening for connections", Duration.ofMinutes(2));
                DrafterProcess forwarder0 = start(
                        running,
                        cwd,
                        env,
                        "forwarder-0",
                        "forwarder",
                        "--port-forwards",
                        RedisLab.forward(lab.namespace(0), redisPort));
                forwarder0.await("drafter forwarder: running", Duration.ofSeconds(60));
                assertEquals("PONG", redisCliWhenUp(redisPort, "ping"));
                assertEquals("OK", redisCli(redisPort, "SET", "message", "Hello from Rocky Linux!"));
                assertEquals("OK", redisCli(redisPort, "SET", "user", "rockyuser"));
                assertEquals("OK", redisCli(redisPort, "SET", "counter", "42"));
                // The destination.
                DrafterProcess destination = start(
                        running,
                        cwd,
                        env,
                        "peer-1",
                        "peer",
                        "--netns",
                        lab.namespace(1),
                        "--raddr",
                        "127.0.0.1:" + migrationPort,
                        "--laddr",
                        "",
                        "--devices",
                        walkthroughDevices(1));
                destination.await("Resumed VM", Duration.ofMinutes(3));
                assertEquals(0, source.waitExit(Duration.ofMinutes(2)), source.tail());
                assertTrue(source.output().contains("Migration completed"), source.tail());
                assertTrue(
                        source.output().contains("created the migration token"),
                        () -> source.output()
                                .lines()
                                .filter(l -> l.startsWith("drafter"))
                                .toList()
                                .toString());
                // "After migration completes": port forwarding to the second instance.
                forwarder0.signal("TERM");
                assertEquals(0, forwarder0.waitExit(Duration.ofSeconds(60)), forwarder0.tail());
                DrafterProcess forwarder1 = start(
                        running,
                        cwd,
                        env,
                        "forwarder-1",
                        "forwarder",
                        "--port-forwards",
                        RedisLab.forward(lab.namespace(1), redisPort));
                forwarder1.await("drafter forwarder: running", Duration.ofSeconds(60));
                assertEquals("PONG", redisCliWhenUp(redisPort, "ping"));
                assertEquals("Hello from Rocky Linux!", redisCli(redisPort, "GET", "message"));
                assertEquals("rockyuser", redisCli(redisPort, "GET", "user"));
                assertEquals("42", redisCli(redisPort, "GET", "counter"));
                forwarder1.signal("TERM");
                destination.signal("TERM");
                assertEquals(0, destination.waitExit(Duration.ofMinutes(1)), destination.tail());
                assertEquals(0, forwarder1.waitExit(Duration.ofSeconds(60)), forwarder1.tail());
            } finally {
                for (DrafterProcess p : running) {
                    p.close();
                }
                RedisLab.drafterQuietly(
                        "peer",
                        "--clean",
                        "--chroot-base-dir",
                        cwd.resolve("out/vms").toString());
            }
            assertEquals(List.of(), TestGuest.qemuUnder(cwd));
        }
    }

    /** The walkthrough's device JSON of instance {@code n}, every field as it writes it. */
    static String walkthroughDevices(int n) {
        StringBuilder json = new StringBuilder("[\n");
        String[][] files = {
            {"state", "state.bin"}, {"memory", "memory.bin"}, {"kernel", "vmlinux"},
            {"disk", "rootfs.ext4"}, {"config", "config.json"}, {"oci", "oci.ext4"}
        };
        for (String[] f : files) {
            json.append(json.length() > 2 ? ",\n" : "")
                    .append("  {\n")
                    .append("    \"name\": \"")
                    .append(f[0])
                    .append("\",\n")
                    .append("    \"base\": \"out/package/")
                    .append(f[1])
                    .append("\",\n")
                    .append("    \"overlay\": \"out/instance-")
                    .append(n)
                    .append("/overlay/")
                    .append(f[1])
                    .append("\",\n")
                    .append("    \"state\": \"out/instance-")
                    .append(n)
                    .append("/state/")
                    .append(f[1])
                    .append("\",\n")
                    .append("    \"blockSize\": 65536,\n")
                    .append("    \"expiry\": 1000000000,\n")
                    .append("    \"maxDirtyBlocks\": 200,\n")
                    .append("    \"minCycles\": 5,\n")
                    .append("    \"maxCycles\": 20,\n")
                    .append("    \"cycleThrottle\": 500000000,\n")
                    .append("    \"makeMigratable\": true,\n")
                    .append("    \"shared\": false\n")
                    .append("  }");
        }
        return json.append("\n]").toString();
    }

    static void run(Path cwd, Map<String, String> env, String name, String... args) throws Exception {
        try (DrafterProcess p = DrafterProcess.start(name, cwd.resolve(name + ".log"), List.of(args), env, cwd)) {
            int code = p.waitExit(Duration.ofMinutes(4));
            assertEquals(0, code, name + ":\n" + p.tail());
        }
    }

    static DrafterProcess start(
            List<DrafterProcess> running, Path cwd, Map<String, String> env, String name, String... args)
            throws IOException {
        DrafterProcess p = DrafterProcess.start(name, cwd.resolve(name + ".log"), List.of(args), env, cwd);
        running.add(p);
        return p;
    }

    static String redisCli(int port, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("redis-cli", "-h", "127.0.0.1", "-p", Integer.toString(port)));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "redis-cli " + String.join(" ", args) + " did not return");
        return out;
    }

    static String redisCliWhenUp(int port, String... args) throws Exception {
        AtomicReference<String> last = new AtomicReference<>();
        return Await.value(
                Duration.ofSeconds(60),
                Duration.ofMillis(300),
                "redis-cli " + String.join(" ", args) + " to answer PONG",
                () -> {
                    last.set(redisCli(port, args));
                    return last.get().equals("PONG") ? last.get() : null;
                },
                () -> "last answer: " + last.get());
    }

    static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }
}
