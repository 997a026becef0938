package io.drafter.pkg.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.drafter.pkg.Posix;
import io.drafter.pkg.Progress;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 2, unit = TimeUnit.MINUTES)
class OciBuildTest {
    private static final Platform AMD64 = new Platform("linux", "amd64", "");

    @TempDir
    Path dir;

    @BeforeEach
    void needRootAndE2fsprogs() {
        assumeTrue(OciBuilder.isRoot(), "needs root: image layers keep file owners and device nodes");
        assumeTrue(onPath("mkfs.ext4") && onPath("debugfs"), "needs e2fsprogs (mkfs.ext4, debugfs)");
    }

    static boolean onPath(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return Files.isExecutable(Path.of("/sbin", tool)) || Files.isExecutable(Path.of("/usr/sbin", tool));
    }

    static String debugfs(Path image, String request) throws Exception {
        Process p = new ProcessBuilder("debugfs", "-R", request, image.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "debugfs -R '" + request + "'");
        return out;
    }

    private static Path write(Path p, String content, int mode, int uid, int gid) throws IOException {
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
        Posix.lchown(p, uid, gid);
        Posix.chmod(p, mode);
        return p;
    }

    /** Two layers exercising whiteouts, opaque directories, owners, set-uid, symlinks and hard links. */
    private List<Path> layers() throws IOException {
        if (Files.isDirectory(dir.resolve("l2"))) {
            return List.of(dir.resolve("l1"), dir.resolve("l2"));
        }
        Path l1 = Files.createDirectories(dir.resolve("l1"));
        write(l1.resolve("etc/passwd"), "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n", 0644, 0, 0);
        write(l1.resolve("etc/group"), "root:x:0:\napp:x:1001:\nextra:x:2000:app\n", 0644, 0, 0);
        write(l1.resolve("bin/app"), "#!/bin/sh\necho hi\n", 0755, 0, 0);
        Files.createLink(l1.resolve("bin/app-again"), l1.resolve("bin/app"));
        write(l1.resolve("bin/su"), "setuid", 04755, 0, 0);
        write(l1.resolve("home/app/data"), "owned by app", 0600, 1000, 1001);
        Posix.lchown(l1.resolve("home/app"), 1000, 1001);
        write(l1.resolve("old/gone.txt"), "to be whited out", 0644, 0, 0);
        write(l1.resolve("old/keep.txt"), "kept", 0644, 0, 0);
        write(l1.resolve("cfg/a.conf"), "a", 0644, 0, 0);
        write(l1.resolve("cfg/b.conf"), "b", 0644, 0, 0);
        write(l1.resolve("cache/deep/file"), "cache", 0644, 0, 0);
        write(l1.resolve("etc/motd"), "layer one", 0644, 0, 0);
        Files.createSymbolicLink(l1.resolve("link"), Path.of("bin/app"));
        Posix.chmod(Files.createDirectories(l1.resolve("tmp")), 01777);

        Path l2 = Files.createDirectories(dir.resolve("l2"));
        write(l2.resolve("old/.wh.gone.txt"), "", 0644, 0, 0);
        write(l2.resolve("cfg/.wh..wh..opq"), "", 0644, 0, 0);
        write(l2.resolve("cfg/c.conf"), "c", 0640, 0, 0);
        write(l2.resolve(".wh.cache"), "", 0644, 0, 0);
        write(l2.resolve("etc/motd"), "layer two", 0644, 0, 0);
        Posix.chmod(l2.resolve("old"), 0755);
        return List.of(l1, l2);
    }

    private static ImageConfig config(Platform platform) {
        return new ImageConfig(
                platform,
                List.of("/bin/app"),
                List.of("--port", "6379"),
                List.of("FOO=bar baz", "PATH=/bin"),
                "/home/app",
                "app",
                Map.of("org.example.role", "test"));
    }

    @Test
    void layeredImageBecomesALabelledExt4WithBundleConfigAndRootfs() throws Exception {
        Path layout = dir.resolve("layout");
        ImageLayoutWriter.write(layers(), config(AMD64), "latest", layout);
        Path image = dir.resolve("out/oci.ext4");
        ImageConfig used = OciBuilder.build(layout, image, AMD64, Progress.NONE);
        assertEquals(List.of("/bin/app"), used.entrypoint());

        assertTrue(
                Ext4Image.run(List.of("dumpe2fs", "-h", image.toString())).contains("Filesystem volume name:   oci"));
        JsonNode cfg = OciImage.JSON.readTree(debugfs(image, "cat /config.json"));
        assertEquals(
                "[\"/bin/app\",\"--port\",\"6379\"]",
                cfg.path("process").path("args").toString());
        assertEquals(
                "[\"FOO=bar baz\",\"PATH=/bin\"]",
                cfg.path("process").path("env").toString());
        assertEquals("/home/app", cfg.path("process").path("cwd").asText());
        assertEquals(1000, cfg.path("process").path("user").path("uid").asInt());
        assertEquals(1001, cfg.path("process").path("user").path("gid").asInt());
        assertEquals(
                "[2000]",
                cfg.path("process").path("user").path("additionalGids").toString());
        assertEquals("rootfs", cfg.path("root").path("path").asText());
        assertEquals("test", cfg.path("annotations").path("org.example.role").asText());
        assertFalse(cfg.path("linux").path("namespaces").toString().contains("network"), "shares the VM network");

        String top = debugfs(image, "ls -p /");
        assertTrue(top.contains("/config.json/") && top.contains("/rootfs/"), top);
        String old = debugfs(image, "ls -p /rootfs/old");
        assertTrue(old.contains("/keep.txt/") && !old.contains("gone.txt"), old);
        String cfgDir = debugfs(image, "ls -p /rootfs/cfg");
        assertTrue(cfgDir.contains("/c.conf/") && !cfgDir.contains("a.conf") && !cfgDir.contains("b.conf"), cfgDir);
        assertFalse(debugfs(image, "ls -p /rootfs").contains("/cache/"), "whited-out directory is gone");
        assertFalse(debugfs(image, "ls -p /rootfs/cfg").contains(".wh."), "whiteout markers are not copied");
        assertEquals("layer two", debugfs(image, "cat /rootfs/etc/motd"));

        String su = debugfs(image, "stat /rootfs/bin/su");
        assertTrue(su.contains("Mode:  04755"), su);
        String data = debugfs(image, "stat /rootfs/home/app/data");
        assertTrue(data.contains("User:  1000") && data.contains("Group:  1001") && data.contains("Mode:  0600"), data);
        String tmp = debugfs(image, "stat /rootfs/tmp");
        assertTrue(tmp.contains("Mode:  01777"), tmp);
        String link = debugfs(image, "stat /rootfs/link");
        assertTrue(link.contains("Type: symlink") && link.contains("bin/app"), link);
        String app = debugfs(image, "stat /rootfs/bin/app");
        assertTrue(app.contains("Links: 2"), app);
        assertEquals(inode(app), inode(debugfs(image, "stat /rootfs/bin/app-again")), "hard link kept");
        assertEquals("#!/bin/sh\necho hi\n", debugfs(image, "cat /rootfs/bin/app-again"));
        assertEquals(List.of(image), Files.list(image.getParent()).toList(), "no work files left beside the image");
    }

    private static String inode(String stat) {
        return stat.lines()
                .filter(l -> l.startsWith("Inode:"))
                .findFirst()
                .orElseThrow()
                .split("\\s+")[1];
    }

    @Test
    void imageLayoutAsTarAndDockerArchiveWork() throws Exception {
        Path tarLayout = dir.resolve("image.tar");
        ImageLayoutWriter.write(layers(), config(AMD64), "latest", tarLayout);
        Path a = dir.resolve("a.ext4");
        OciBuilder.build(tarLayout, a, AMD64, Progress.NONE);
        assertEquals("layer two", debugfs(a, "cat /rootfs/etc/motd"));

        // docker save: manifest.json + config + uncompressed layer tars
        Path docker = Files.createDirectories(dir.resolve("docker"));
        Path layer = Files.createDirectories(docker.resolve("abc"));
        try (OutputStream out = Files.newOutputStream(layer.resolve("layer.tar"))) {
            ImageLayoutWriter.writeTar(layers().getFirst(), out);
        }
        Files.writeString(docker.resolve("cfg.json"), """
                {"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/app","x"],"Env":["A=1"]}}""");
        Files.writeString(docker.resolve("manifest.json"), """
                [{"Config":"cfg.json","RepoTags":["t:latest"],"Layers":["abc/layer.tar"]}]""");
        Path dockerTar = dir.resolve("docker.tar");
        try (OutputStream out = Files.newOutputStream(dockerTar)) {
            ImageLayoutWriter.writeTar(docker, out);
        }
        Path b = dir.resolve("b.ext4");
        OciBuilder.build(dockerTar, b, AMD64, Progress.NONE);
        JsonNode cfg = OciImage.JSON.readTree(debugfs(b, "cat /config.json"));
        assertEquals("[\"/bin/app\",\"x\"]", cfg.path("process").path("args").toString());
        assertEquals(
                "[\"" + RuntimeBundle.DEFAULT_PATH + "\",\"A=1\"]",
                cfg.path("process").path("env").toString());
        assertEquals("layer one", debugfs(b, "cat /rootfs/etc/motd"));
    }

    @Test
    void otherArchitectureIsRejectedClearly() throws Exception {
        Path layout = dir.resolve("layout");
        ImageLayoutWriter.write(layers(), config(new Platform("linux", "arm64", "")), "latest", layout);
        Path out = dir.resolve("oci.ext4");
        IOException e = assertThrows(IOException.class, () -> OciBuilder.build(layout, out, AMD64, Progress.NONE));
        assertTrue(e.getMessage().contains("has no manifest for linux/amd64 (it has linux/arm64)"), e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void tamperedLayerIsDetected() throws Exception {
        Path layout = dir.resolve("layout");
        ImageLayoutWriter.write(layers(), config(AMD64), "latest", layout);
        JsonNode index = OciImage.JSON.readTree(layout.resolve("index.json").toFile());
        String manifestDigest =
                index.path("manifests").get(0).path("digest").asText().substring(7);
        JsonNode manifest = OciImage.JSON.readTree(
                layout.resolve("blobs/sha256/" + manifestDigest).toFile());
        Path blob = layout.resolve("blobs/sha256/"
                + manifest.path("layers").get(1).path("digest").asText().substring(7));
        byte[] bytes = Files.readAllBytes(blob);
        bytes[bytes.length - 9] ^= 1; // the gzip trailer's CRC: content still inflates, the digest differs
        Files.write(blob, bytes);
        Path out = dir.resolve("oci.ext4");
        IOException e = assertThrows(IOException.class, () -> OciBuilder.build(layout, out, AMD64, Progress.NONE));
        assertTrue(e.getMessage().startsWith("could not unpack layer 2/2"), e.getMessage());
        assertFalse(Files.exists(out));
    }

    private static byte[] layerTar(TarArchiveEntry... entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            for (TarArchiveEntry e : entries) {
                byte[] content = e.isFile() && !e.isLink() ? "pwned".getBytes(StandardCharsets.UTF_8) : new byte[0];
                if (e.getLinkFlag() == TarArchiveEntry.LF_NORMAL) {
                    e.setSize(content.length);
                }
                tar.putArchiveEntry(e);
                if (e.getLinkFlag() == TarArchiveEntry.LF_NORMAL) {
                    tar.write(content);
                }
                tar.closeArchiveEntry();
            }
        }
        return bytes.toByteArray();
    }

    @Test
    void symlinksInLayersCannotLeadWritesOutOfTheRootfs() throws Exception {
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        TarArchiveEntry abs = new TarArchiveEntry("evil", TarArchiveEntry.LF_SYMLINK);
        abs.setLinkName(outside.toString());
        TarArchiveEntry rel = new TarArchiveEntry("up", TarArchiveEntry.LF_SYMLINK);
        rel.setLinkName("../../../../../../../.." + outside);
        TarArchiveEntry hard = new TarArchiveEntry("hard", TarArchiveEntry.LF_LINK);
        hard.setLinkName("evil/victim");
        new LayerUnpacker(rootfs, true)
                .apply(
                        new ByteArrayInputStream(layerTar(
                                abs,
                                new TarArchiveEntry("evil/pwned", TarArchiveEntry.LF_NORMAL, true),
                                rel,
                                new TarArchiveEntry("up/pwned2", TarArchiveEntry.LF_NORMAL, true))),
                        "hostile");
        assertEquals(List.of(), Files.list(outside).toList(), "nothing written outside the rootfs");
        Path inside = rootfs.resolve(outside.toString().substring(1));
        assertTrue(Files.isRegularFile(inside.resolve("pwned"), LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.isRegularFile(inside.resolve("pwned2"), LinkOption.NOFOLLOW_LINKS));

        Files.writeString(outside.resolve("victim"), "host file");
        IOException e = assertThrows(
                IOException.class,
                () -> new LayerUnpacker(rootfs, true).apply(new ByteArrayInputStream(layerTar(hard)), "hostile"));
        assertTrue(e.getMessage().contains("not in the image"), e.getMessage());

        IOException dots = assertThrows(
                IOException.class,
                () -> new LayerUnpacker(rootfs, true)
                        .apply(
                                new ByteArrayInputStream(
                                        layerTar(new TarArchiveEntry("../escape", TarArchiveEntry.LF_NORMAL, true))),
                                "hostile"));
        assertTrue(dots.getMessage().contains("refusing entry '../escape'"), dots.getMessage());
        assertFalse(Files.exists(dir.resolve("escape")));
    }

    @Test
    void deviceNodesAreCreated() throws Exception {
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        TarArchiveEntry nul = new TarArchiveEntry("dev/null", TarArchiveEntry.LF_CHR);
        nul.setDevMajor(1);
        nul.setDevMinor(3);
        nul.setMode(0666);
        new LayerUnpacker(rootfs, true).apply(new ByteArrayInputStream(layerTar(nul)), "dev");
        Map<String, Object> a =
                Files.readAttributes(rootfs.resolve("dev/null"), "unix:mode,rdev", LinkOption.NOFOLLOW_LINKS);
        assertEquals(0020666, (int) a.get("mode"));
        assertEquals((1L << 8) | 3, (long) a.get("rdev"));
    }

    @Test
    void userNamesResolveThroughTheRootfs() throws Exception {
        Path rootfs = Files.createDirectories(dir.resolve("r/etc")).getParent();
        Files.writeString(rootfs.resolve("etc/passwd"), "redis:x:999:998::/data:/bin/false\n");
        Files.writeString(rootfs.resolve("etc/group"), "redis:x:998:\nwheel:x:10:\n");
        assertEquals(new RuntimeBundle.User(999, 998, List.of()), RuntimeBundle.resolveUser(rootfs, "redis"));
        assertEquals(new RuntimeBundle.User(999, 10, List.of()), RuntimeBundle.resolveUser(rootfs, "redis:wheel"));
        assertEquals(new RuntimeBundle.User(5, 6, List.of()), RuntimeBundle.resolveUser(rootfs, "5:6"));
        assertEquals(new RuntimeBundle.User(0, 0, List.of()), RuntimeBundle.resolveUser(rootfs, ""));
        IOException e = assertThrows(IOException.class, () -> RuntimeBundle.resolveUser(rootfs, "nobody"));
        assertTrue(e.getMessage().contains("no user 'nobody'"), e.getMessage());
    }
}
