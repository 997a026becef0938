package io.drafter.pkg.oci;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Builds a Redis OCI image locally from Debian packages (no image registry needed): downloads
 * {@code redis-server}, {@code redis-tools}, {@code dash} and the shared libraries they need with {@code apt-get download},
 * unpacks them with {@code dpkg -x} into one root file system, checks that {@code redis-server --version}
 * runs there under {@code chroot}, and writes that tree as a single-layer OCI image layout.
 *
 * <p>Maintainer scripts are not run and packages that only matter to a package manager or an init system
 * ({@code adduser}, {@code lsb-base}, {@code init-system-helpers}) are left out: the image runs one process.
 * Needs root (dpkg ownership, chroot) and a working apt source.
 */
public final class RedisExample {
    /**
     * Packages the image is made of, before their library dependencies are added: dash gives the bundle a
     * {@code /bin/sh}, which the guest needs to honour the working directory and to run the readiness check.
     */
    static final List<String> ROOTS = List.of("redis-server", "redis-tools", "dash");

    /**
     * The readiness check (annotation {@code io.drafter.ready}, run by the guest inside the bundle's root): the VM
     * reports ready only once Redis answers, so a snapshot taken at ready holds a listening server.
     */
    static final String READY_CHECK = "[ \"$(redis-cli -p 6379 ping 2>/dev/null)\" = PONG ]";

    /** Dependencies followed: shared libraries, their gcc base, and redis itself. */
    private static final Pattern RUNTIME = Pattern.compile("lib[a-z0-9.+-]*|gcc-[0-9]+-base|redis-[a-z]+");

    private static final Logger LOG = System.getLogger(RedisExample.class.getName());

    private RedisExample() {}

    /** The image configuration: redis-server listening on all addresses, no persistence, data in /data. */
    static ImageConfig config(Platform platform, String version) {
        return new ImageConfig(
                platform,
                List.of("/usr/bin/redis-server"),
                List.of(
                        "--bind",
                        "0.0.0.0",
                        "--protected-mode",
                        "no",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        "/data"),
                List.of(RuntimeBundle.DEFAULT_PATH),
                "/data",
                "",
                Map.of(
                        "io.drafter.ready",
                        READY_CHECK,
                        "org.opencontainers.image.title",
                        "redis",
                        "org.opencontainers.image.version",
                        version,
                        "org.opencontainers.image.description",
                        "redis-server from Debian packages, built by drafter oci example redis"));
    }

    /**
     * Builds the image into {@code output} (a directory, or a tar when the name ends in {@code .tar}).
     *
     * @return the Debian packages it was made of
     */
    public static List<String> build(Path output) throws IOException {
        if (!OciBuilder.isRoot()) {
            throw new IOException("could not build the redis example: run as root (dpkg -x ownership, chroot)");
        }
        Path abs = output.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path work = Files.createTempDirectory(abs.getParent(), ".redis-example-");
        try {
            List<String> packages = resolve(ROOTS);
            Path debs = Files.createDirectories(work.resolve("debs"));
            Path rootfs = Files.createDirectories(work.resolve("rootfs"));
            download(packages, debs);
            String version = "";
            try (Stream<Path> files = Files.list(debs)) {
                for (Path deb : files.filter(f -> f.toString().endsWith(".deb"))
                        .sorted()
                        .toList()) {
                    Ext4Image.run(List.of("dpkg", "-x", deb.toString(), rootfs.toString()));
                    if (deb.getFileName().toString().startsWith("redis-server_")) {
                        version = Ext4Image.run(List.of("dpkg-deb", "-f", deb.toString(), "Version"))
                                .strip();
                    }
                }
            }
            finishRootfs(rootfs);
            String reported = verify(rootfs);
            LOG.log(Level.INFO, "redis example rootfs runs: {0}", reported);
            ImageLayoutWriter.write(List.of(rootfs), config(Platform.host(), version), "redis", output);
            return packages;
        } finally {
            LayerUnpacker.deleteRecursively(work);
        }
    }

    /**
     * Resolves {@code roots} and their runtime dependencies ({@code Depends}/{@code PreDepends} that are
     * libraries), taking the first installable alternative, as apt would.
     */
    static List<String> resolve(List<String> roots) throws IOException {
        Set<String> seen = new LinkedHashSet<>();
        List<String> level = new ArrayList<>(roots);
        // one apt-cache call per level of the dependency tree: each call reads the whole package cache
        while (!level.isEmpty()) {
            level.removeIf(p -> !seen.add(p));
            if (level.isEmpty()) {
                break;
            }
            List<String> cmd = new ArrayList<>(List.of(
                    "apt-cache",
                    "depends",
                    "--no-recommends",
                    "--no-suggests",
                    "--no-conflicts",
                    "--no-breaks",
                    "--no-replaces",
                    "--no-enhances"));
            cmd.addAll(level);
            String out;
            try {
                out = Ext4Image.run(cmd);
            } catch (IOException e) {
                throw new IOException("could not resolve the dependencies of " + level + ": " + e.getMessage()
                        + " (run apt-get update)");
            }
            List<String> next = new ArrayList<>();
            List<String> group = new ArrayList<>();
            for (String line : out.lines().toList()) {
                boolean alternative = line.startsWith(" |");
                String t = line.strip().replaceFirst("^\\|", "");
                if (!(t.startsWith("Depends:") || t.startsWith("PreDepends:"))) {
                    continue;
                }
                group.add(t.substring(t.indexOf(':') + 1).strip());
                if (alternative) {
                    continue; // the next line is the other choice
                }
                group.stream()
                        .filter(n -> !n.startsWith("<") && RUNTIME.matcher(n).matches())
                        .findFirst()
                        .ifPresent(next::add);
                group.clear();
            }
            level = next;
        }
        if (seen.size() == roots.size()) {
            throw new IOException("could not resolve the dependencies of " + roots
                    + " (apt-cache knows no libraries; run apt-get update)");
        }
        return List.copyOf(seen);
    }

    private static void download(List<String> packages, Path debs) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("apt-get", "download", "-q", "-o", "APT::Sandbox::User=root"));
        cmd.addAll(packages);
        try {
            Ext4Image.run(cmd, debs, Ext4Image.RUN_TIMEOUT);
        } catch (IOException e) {
            throw new IOException(
                    "could not download Debian packages with apt-get download: " + e.getMessage()
                            + " (is an apt source reachable?)",
                    e);
        }
    }

    private static void finishRootfs(Path rootfs) throws IOException {
        for (String gone : List.of("usr/share/doc", "usr/share/man", "usr/share/lintian", "usr/share/info")) {
            LayerUnpacker.deleteRecursively(rootfs.resolve(gone));
        }
        Path etc = Files.createDirectories(rootfs.resolve("etc"));
        Files.writeString(
                etc.resolve("passwd"),
                "root:x:0:0:root:/root:/bin/sh\n"
                        + "redis:x:999:999:redis:/data:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
        Files.writeString(etc.resolve("group"), "root:x:0:\nredis:x:999:\nnogroup:x:65534:\n");
        Files.writeString(etc.resolve("hosts"), "127.0.0.1 localhost\n::1 localhost\n");
        Files.writeString(etc.resolve("hostname"), "drafterguest\n");
        Files.writeString(etc.resolve("resolv.conf"), "");
        Files.createDirectories(rootfs.resolve("data"));
        io.drafter.linux.Libc.chmod(
                Files.createDirectories(rootfs.resolve("tmp")).toString(), 01777);
        Files.createDirectories(rootfs.resolve("root"));
        Files.createDirectories(rootfs.resolve("proc"));
        Files.createDirectories(rootfs.resolve("sys"));
        Files.createDirectories(rootfs.resolve("dev"));
        Path sh = rootfs.resolve("bin/sh");
        if (!Files.exists(sh, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            // dash's maintainer script makes this link on a real system; maintainer scripts are not run here
            Files.createSymbolicLink(sh, Path.of("dash"));
        }
        if (Files.isExecutable(Path.of("/sbin/ldconfig"))) {
            // a loader cache, so libraries are found in /lib and /usr/lib alike
            Ext4Image.run(List.of("/sbin/ldconfig", "-r", rootfs.toString()));
        }
    }

    /**
     * Runs {@code redis-server --version} chrooted into {@code rootfs} and returns its output; also checks that
     * {@code /bin/sh} and {@code redis-cli} (the readiness check's tools) run there.
     */
    static String verify(Path rootfs) throws IOException {
        Ext4Image.run(List.of("chroot", rootfs.toString(), "/bin/sh", "-c", "redis-cli --version >/dev/null"));
        return Ext4Image.run(List.of("chroot", rootfs.toString(), "/usr/bin/redis-server", "--version"))
                .strip();
    }
}
