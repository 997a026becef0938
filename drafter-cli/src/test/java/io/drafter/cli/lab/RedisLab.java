package io.drafter.cli.lab;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.base.testing.Await;
import io.drafter.cli.Drafter;
import io.drafter.vm.testing.TestGuest;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What the peer process tests need, made as a user makes it: the Redis OCI image as a VM disk (built once from
 * Debian packages and kept in {@code out/blueprint}), {@code drafter nat} with two namespaces of a prefix of its own, a
 * snapshot package of a Redis VM made by {@code drafter snapshotter}, and a Redis client (the project's
 * {@code scripts/redis-client.py}) that talks only to 127.0.0.1 through the peers' port forwards.
 *
 * <p>Skips (with the reason) without root, QEMU, {@code /dev/fuse} or a reachable Debian mirror. {@link #close()} stops
 * the NAT process (which removes its namespaces) and cleans up after it if it had to be killed.
 */
public final class RedisLab implements AutoCloseable {
    public static final int MEMORY_MIB = 128;

    private final Path dir;
    private final String prefix;
    private final Path natState;
    private final DrafterProcess nat;
    private final Path pkg;

    private RedisLab(Path dir, String prefix, Path natState, DrafterProcess nat, Path pkg) {
        this.dir = dir;
        this.prefix = prefix;
        this.natState = natState;
        this.nat = nat;
        this.pkg = pkg;
    }

    /** Builds what is missing and starts the NAT in {@code dir}; the caller closes it. */
    public static RedisLab create(Path dir) throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root: namespaces, FUSE, QEMU");
        assumeTrue(Files.exists(Path.of("/dev/fuse")), "needs /dev/fuse");
        Path bp = TestGuest.blueprint();
        Path oci = ociRedis(bp);
        String prefix = "drl" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x100, 0xfff));
        Path natState = dir.resolve("nat-state");
        DrafterProcess nat = DrafterProcess.start(
                "drafter nat",
                dir.resolve("nat.log"),
                List.of(
                        "nat",
                        "--namespace-count",
                        "2",
                        "--namespace-prefix",
                        prefix,
                        "--state-dir",
                        natState.toString()));
        RedisLab lab = new RedisLab(dir, prefix, natState, nat, dir.resolve("package"));
        try {
            nat.await("drafter nat: running", Duration.ofSeconds(60));
            lab.snapshot(bp, oci);
            return lab;
        } catch (Throwable t) {
            lab.close();
            throw t;
        }
    }

    private static synchronized Path ociRedis(Path bp) throws IOException {
        Path oci = bp.resolve("oci-redis.ext4");
        if (Files.exists(oci)) {
            return oci;
        }
        Path layout = bp.resolveSibling("redis-oci");
        String example = drafter("oci", "example", "redis", "--output", layout.toString());
        assumeTrue(
                !example.contains("could not download") && !example.contains("could not resolve"),
                "no Debian apt source reachable: " + example);
        if (!example.isEmpty()) {
            throw new IOException("drafter oci example redis failed: " + example);
        }
        Path tmp = bp.resolve("oci-redis.ext4.tmp");
        String build =
                drafter("oci", "build", "--image", layout.toString(), "--output", tmp.toString(), "--progress=false");
        if (!build.isEmpty()) {
            throw new IOException("drafter oci build failed: " + build);
        }
        Files.move(tmp, oci);
        return oci;
    }

    private void snapshot(Path bp, Path oci) throws Exception {
        String json = "[{\"name\":\"state\",\"output\":\"" + pkg.resolve("state.bin") + "\"},"
                + "{\"name\":\"memory\",\"output\":\"" + pkg.resolve("memory.bin") + "\"},"
                + "{\"name\":\"kernel\",\"input\":\"" + bp.resolve("vmlinux") + "\",\"output\":\""
                + pkg.resolve("vmlinux") + "\"},"
                + "{\"name\":\"initrd\",\"input\":\"" + bp.resolve("initramfs.img") + "\",\"output\":\""
                + pkg.resolve("initramfs.img") + "\"},"
                + "{\"name\":\"disk\",\"input\":\"" + bp.resolve("rootfs.ext4") + "\",\"output\":\""
                + pkg.resolve("rootfs.ext4") + "\"},"
                + "{\"name\":\"config\",\"output\":\"" + pkg.resolve("config.json") + "\"},"
                + "{\"name\":\"oci\",\"input\":\"" + oci + "\",\"output\":\"" + pkg.resolve("oci.ext4") + "\"}]";
        try (DrafterProcess s = DrafterProcess.start(
                "drafter snapshotter",
                dir.resolve("snapshotter.log"),
                List.of(
                        "snapshotter",
                        "--netns",
                        namespace(0),
                        "--memory-size",
                        Integer.toString(MEMORY_MIB),
                        "--enable-output=false",
                        "--chroot-base-dir",
                        dir.resolve("snapshot-vms").toString(),
                        "--devices",
                        json))) {
            int code = s.waitExit(Duration.ofMinutes(4));
            if (code != 0) {
                throw new AssertionError("snapshotter failed (" + code + "):\n" + s.tail());
            }
        }
    }

    /** The package directory. */
    public Path pkg() {
        return pkg;
    }

    /** Namespace {@code i} (0 or 1). */
    public String namespace(int i) {
        return prefix + i;
    }

    /** A copy of the package in {@code to} (for peers that write into their base files). */
    public Path copyPackage(Path to) throws IOException {
        Files.createDirectories(to);
        try (var files = Files.list(pkg)) {
            for (Path f : files.toList()) {
                Process p = new ProcessBuilder(
                                "cp",
                                "--sparse=always",
                                f.toString(),
                                to.resolve(f.getFileName()).toString())
                        .redirectErrorStream(true)
                        .start();
                try {
                    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                        throw new IOException("could not copy " + f);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted copying " + f, e);
                }
            }
        }
        return to;
    }

    /**
     * Drafter's {@code --devices} for the package's files under {@code base} (their names as the snapshotter wrote them),
     * copy-on-write with overlays and states under {@code cow} when it is not null; quick dirty rounds.
     */
    public static String devices(Path base, Path cow) {
        StringBuilder json = new StringBuilder("[");
        String[][] files = {
            {"state", "state.bin"},
            {"memory", "memory.bin"},
            {"kernel", "vmlinux"},
            {"initrd", "initramfs.img"},
            {"disk", "rootfs.ext4"},
            {"config", "config.json"},
            {"oci", "oci.ext4"}
        };
        for (String[] f : files) {
            json.append(json.length() > 1 ? "," : "")
                    .append("{\"name\":\"")
                    .append(f[0])
                    .append("\",\"base\":\"")
                    .append(base.resolve(f[1]))
                    .append('"');
            if (cow != null) {
                json.append(",\"overlay\":\"")
                        .append(cow.resolve("overlay").resolve(f[1]))
                        .append("\",\"state\":\"")
                        .append(cow.resolve("state").resolve(f[1]))
                        .append('"');
            }
            json.append(",\"blockSize\":65536,\"minCycles\":1,\"maxCycles\":4,\"cycleThrottle\":\"100ms\"}");
        }
        return json.append(']').toString();
    }

    /** Drafter's {@code --port-forwards} for 127.0.0.1:{@code port} to Redis in namespace {@code ns}. */
    public static String forward(String ns, int port) {
        return "[{\"netns\":\"" + ns + "\",\"internalPort\":\"6379\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1:"
                + port + "\"}]";
    }

    /** A free TCP port on 127.0.0.1. */
    public static int freePort() throws IOException {
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** Runs {@code scripts/redis-client.py <port> <args>} and returns its output; fails on a non-zero exit. */
    public static String redis(int port, String... args) throws IOException, InterruptedException {
        Process p = redisClient(port, args).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new AssertionError("redis-client " + String.join(" ", args) + " failed: " + out);
        }
        return out;
    }

    /** Retries {@code redis(port, args)} for up to {@code timeout} (Redis answers once the forward is in place). */
    public static String redisWhenUp(int port, Duration timeout, String... args) throws Exception {
        AtomicReference<AssertionError> last = new AtomicReference<>();
        return Await.value(
                timeout,
                Duration.ofMillis(300),
                "Redis on port " + port + " to answer " + String.join(" ", args),
                () -> {
                    try {
                        return redis(port, args);
                    } catch (AssertionError e) {
                        last.set(e);
                        return null;
                    }
                },
                () -> last.get() == null ? "" : last.get().getMessage());
    }

    /** A client that writes a key every 5 ms and records each acknowledged one in {@code ackFile} until SIGTERM. */
    public static Process load(int port, Path ackFile, Path log) throws IOException {
        return redisClient(port, "load", ackFile.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
    }

    private static ProcessBuilder redisClient(int port, String... args) {
        List<String> cmd = new ArrayList<>(List.of(
                "python3",
                TestGuest.repoRoot().resolve("scripts/redis-client.py").toString(),
                Integer.toString(port)));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd);
    }

    /** Runs {@code drafter <args>} in this JVM (commands that install no signal handlers); returns its exit status. */
    public static int drafterQuietly(String... args) {
        var cli = Drafter.commandLine();
        cli.setErr(new PrintWriter(new StringWriter(), true));
        cli.setOut(new PrintWriter(new StringWriter(), true));
        return cli.execute(args);
    }

    /** Mounts a tmpfs of {@code size} (e.g. "16m") at {@code dir}: a small file system that fills up. */
    public static void mountTmpfs(Path dir, String size) throws IOException, InterruptedException {
        run("mount", "-t", "tmpfs", "-o", "size=" + size, "drafter-test", dir.toString());
    }

    /** Unmounts {@code dir} (lazily, so that a failed test cannot keep it). */
    public static void unmount(Path dir) throws IOException, InterruptedException {
        run("umount", "-l", dir.toString());
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out);
        }
    }

    /** Runs {@code drafter <args>} in this JVM (commands that install no signal handlers); "" on success. */
    static String drafter(String... args) {
        StringWriter err = new StringWriter();
        var cli = Drafter.commandLine();
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return code == 0 ? "" : "exit " + code + ": " + err.toString().strip();
    }

    @Override
    public void close() throws Exception {
        if (nat.isAlive()) {
            nat.signal("TERM");
            try {
                nat.waitExit(Duration.ofSeconds(60));
            } catch (AssertionError e) {
                nat.kill();
            }
        }
        drafter("nat", "--clean", "--namespace-prefix", prefix, "--state-dir", natState.toString());
    }
}
