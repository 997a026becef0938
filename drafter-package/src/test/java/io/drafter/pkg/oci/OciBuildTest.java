package io.drafter.pkg.oci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.drafter.linux.Libc;
import io.drafter.pkg.Progress;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
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
        Libc.lchown(p.toString(), uid, gid);
        Libc.chmod(p.toString(), mode);
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
        Libc.lchown(l1.resolve("home/app").toString(), 1000, 1001);
        write(l1.resolve("old/gone.txt"), "to be whited out", 0644, 0, 0);
        write(l1.resolve("old/keep.txt"), "kept", 0644, 0, 0);
        write(l1.resolve("cfg/a.conf"), "a", 0644, 0, 0);
        write(l1.resolve("cfg/b.conf"), "b", 0644, 0, 0);
        write(l1.resolve("cache/deep/file"), "cache", 0644, 0, 0);
        write(l1.resolve("etc/motd"), "layer one", 0644, 0, 0);
        Files.createSymbolicLink(l1.resolve("link"), Path.of("bin/app"));
        Libc.chmod(Files.createDirectories(l1.resolve("tmp")).toString(), 01777);

        Path l2 = Files.createDirectories(dir.resolve("l2"));
        write(l2.resolve("old/.wh.gone.txt"), "", 0644, 0, 0);
        write(l2.resolve("cfg/.wh..wh..opq"), "", 0644, 0, 0);
        write(l2.resolve("cfg/c.conf"), "c", 0640, 0, 0);
        write(l2.resolve(".wh.cache"), "", 0644, 0, 0);
        write(l2.resolve("etc/motd"), "layer two", 0644, 0, 0);
        Libc.chmod(l2.resolve("old").toString(), 0755);
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
        assertEquals(
                "rw-------",
                java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(image)),
                "a VM's disk is private");

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

        ByteArrayOutputStream layer = new ByteArrayOutputStream();
        ImageLayoutWriter.writeTar(layers().getFirst(), layer);
        Path dockerTar = dockerArchive("docker", """
                {"Cmd":["/bin/app","x"],"Env":["A=1"]}""", layer.toByteArray());
        Path b = dir.resolve("b.ext4");
        OciBuilder.build(dockerTar, b, AMD64, Progress.NONE);
        JsonNode cfg = OciImage.JSON.readTree(debugfs(b, "cat /config.json"));
        assertEquals("[\"/bin/app\",\"x\"]", cfg.path("process").path("args").toString());
        assertEquals(
                "[\"" + RuntimeBundle.DEFAULT_PATH + "\",\"A=1\"]",
                cfg.path("process").path("env").toString());
        assertEquals("layer one", debugfs(b, "cat /rootfs/etc/motd"));
    }

    /** A {@code docker save} archive: manifest.json, a config with {@code config}, uncompressed layer tars. */
    private Path dockerArchive(String name, String config, byte[]... layers) throws IOException {
        Path docker = Files.createDirectories(dir.resolve(name));
        StringBuilder names = new StringBuilder();
        for (int i = 0; i < layers.length; i++) {
            Path layer = Files.createDirectories(docker.resolve("l" + i)).resolve("layer.tar");
            Files.write(layer, layers[i]);
            names.append(i == 0 ? "" : ",").append("\"l").append(i).append("/layer.tar\"");
        }
        Files.writeString(
                docker.resolve("cfg.json"), "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":" + config + "}");
        Files.writeString(
                docker.resolve("manifest.json"),
                "[{\"Config\":\"cfg.json\",\"RepoTags\":[\"t:latest\"],\"Layers\":[" + names + "]}]");
        Path tar = dir.resolve(name + ".tar");
        try (OutputStream out = Files.newOutputStream(tar)) {
            ImageLayoutWriter.writeTar(docker, out);
        }
        return tar;
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

    /**
     * A layer tar of {@code entries}; regular files hold "pwned". The PAX headers added to an entry are
     * written as a raw {@code x} header before it, each value's chars taken as bytes (ISO-8859-1): binary
     * values, as Go's archive/tar and GNU tar write xattrs. A {@code g} entry is written by commons-compress.
     */
    private static byte[] layerTar(TarArchiveEntry... entries) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes)) {
            for (TarArchiveEntry e : entries) {
                if (e.getLinkFlag() == TarArchiveEntry.LF_PAX_GLOBAL_EXTENDED_HEADER) {
                    tar.putArchiveEntry(e); // commons-compress writes (UTF-8) and closes a global header itself
                    continue;
                }
                Map<String, String> pax = new LinkedHashMap<>(e.getExtraPaxHeaders());
                if (!pax.isEmpty()) {
                    e.clearExtraPaxHeaders();
                    ByteArrayOutputStream records = new ByteArrayOutputStream();
                    for (Map.Entry<String, String> r : pax.entrySet()) {
                        records.write(paxRecord(r.getKey(), r.getValue().getBytes(StandardCharsets.ISO_8859_1)));
                    }
                    TarArchiveEntry header =
                            new TarArchiveEntry("PaxHeaders/x", TarArchiveEntry.LF_PAX_EXTENDED_HEADER_LC);
                    header.setSize(records.size());
                    tar.putArchiveEntry(header);
                    records.writeTo(tar);
                    tar.closeArchiveEntry();
                }
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

    /** Applies a layer of {@code entries} to {@code rootfs}, as root. */
    private static void unpack(Path rootfs, String layerName, TarArchiveEntry... entries) throws IOException {
        new LayerUnpacker(rootfs, true).apply(new ByteArrayInputStream(layerTar(entries)), layerName);
    }

    /** An entry named {@code ../escape} is refused, and nothing is written above the rootfs. */
    private void dotDotIsRefused(Path rootfs, TarArchiveEntry escape) {
        IOException dots = assertThrows(IOException.class, () -> unpack(rootfs, "hostile", escape));
        assertTrue(dots.getMessage().contains("refusing entry '../escape'"), dots.getMessage());
        assertFalse(Files.exists(dir.resolve("escape")));
    }

    /** One PAX record, {@code <length> <key>=<value>\n}, the length counting its own digits. */
    private static byte[] paxRecord(String key, byte[] value) {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        int rest = 1 + k.length + 1 + value.length + 1;
        int len = rest + Integer.toString(rest).length();
        if (Integer.toString(len).length() != Integer.toString(rest).length()) {
            len++;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes((len + " " + key + "=").getBytes(StandardCharsets.UTF_8));
        out.writeBytes(value);
        out.write('\n');
        return out.toByteArray();
    }

    private static String latin1(byte[] value) {
        return new String(value, StandardCharsets.ISO_8859_1);
    }

    private static String latin1(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            b[i] = (byte) bytes[i];
        }
        return latin1(b);
    }

    /**
     * {@code cap_net_raw+ep} as a VFS capability v2 blob: magic_etc 0x02000001 (revision 2, effective),
     * then permitted/inheritable of the low and high 32 capabilities, all little-endian.
     */
    private static final String CAP_NET_RAW_EP =
            latin1(0x01, 0, 0, 0x02, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /** A POSIX ACL (xattr form, version 2): user::rw-, user:1000:r--, group::r--, mask::r--, other::r--. */
    private static final String ACL_USER_1000 = latin1(
            2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 4, 0, 0xe8, 3, 0, 0, 4, 0, 4, 0, 0xff, 0xff, 0xff,
            0xff, 0x10, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff);

    private static TarArchiveEntry entry(String name, byte type, String... xattrs) {
        TarArchiveEntry e = type == TarArchiveEntry.LF_NORMAL
                ? new TarArchiveEntry(name, type, true)
                : new TarArchiveEntry(name, type);
        for (int i = 0; i < xattrs.length; i += 2) {
            e.addPaxHeader(xattrs[i], xattrs[i + 1]);
        }
        return e;
    }

    /** The bytes of attribute {@code name} of {@code path} in the ext4 {@code image}, or null if it has none. */
    static byte[] xattr(Path image, String path, String name) throws Exception {
        String prefix = name + " (";
        for (String line : debugfs(image, "ea_get -x " + path + " \"" + name + "\"")
                .lines()
                .toList()) {
            if (line.startsWith(prefix)) {
                String hex = line.substring(line.indexOf(" = ") + 3).replace(" ", "");
                return HexFormat.of().parseHex(hex);
            }
        }
        return null;
    }

    /** The user.* attribute {@code name} of {@code p} on the host (not following a symlink), or null. */
    private static byte[] userXattr(Path p, String name) throws IOException {
        UserDefinedFileAttributeView view =
                Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        if (!view.list().contains(name)) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(view.size(name));
        view.read(name, b);
        return b.array();
    }

    @Test
    void extendedAttributesFromPaxHeadersReachTheExt4() throws Exception {
        String lib = Base64.getEncoder().encodeToString("libarchive\0form".getBytes(StandardCharsets.UTF_8));
        TarArchiveEntry ping = entry(
                "bin/ping",
                TarArchiveEntry.LF_NORMAL,
                "SCHILY.xattr.security.capability",
                CAP_NET_RAW_EP,
                "SCHILY.xattr.user.drafter.test",
                latin1(0x80, 0xff, 0, 'x')); // not UTF-8: must arrive byte for byte
        ping.setMode(0100755);
        ping.setIds(1000, 1001); // chown clears security.capability: the attributes must come after it
        TarArchiveEntry link = entry(
                "bin/link", TarArchiveEntry.LF_SYMLINK, "SCHILY.xattr.trusted.drafter.link", "on the link itself");
        link.setLinkName("ping");
        byte[] layer1 = layerTar(
                entry("bin/", TarArchiveEntry.LF_DIR),
                ping,
                entry(
                        "bin/libarchive",
                        TarArchiveEntry.LF_NORMAL,
                        // bsdtar writes both forms; the name is URL-encoded, the value base64
                        "LIBARCHIVE.xattr.user.drafter%20lib",
                        lib,
                        "SCHILY.xattr.user.drafter lib",
                        "libarchive\0form"),
                link,
                entry("shared/", TarArchiveEntry.LF_DIR, "SCHILY.xattr.system.posix_acl_access", ACL_USER_1000),
                entry("old/gone", TarArchiveEntry.LF_NORMAL));
        byte[] layer2 = layerTar(
                entry("old/.wh.gone", TarArchiveEntry.LF_NORMAL, "SCHILY.xattr.user.drafter.whiteout", "x"),
                entry("shared/.wh..wh..opq", TarArchiveEntry.LF_NORMAL, "SCHILY.xattr.user.drafter.opaque", "x"));
        Path image = dir.resolve("xattr.ext4");
        OciBuilder.build(
                dockerArchive("xattr", "{\"Cmd\":[\"/bin/ping\"]}", layer1, layer2), image, AMD64, Progress.NONE);

        assertArrayEquals(
                CAP_NET_RAW_EP.getBytes(StandardCharsets.ISO_8859_1),
                xattr(image, "/rootfs/bin/ping", "security.capability"),
                "cap_net_raw+ep");
        assertArrayEquals(
                new byte[] {(byte) 0x80, (byte) 0xff, 0, 'x'}, xattr(image, "/rootfs/bin/ping", "user.drafter.test"));
        String pingStat = debugfs(image, "stat /rootfs/bin/ping");
        assertTrue(pingStat.contains("User:  1000") && pingStat.contains("Mode:  0755"), pingStat);
        assertArrayEquals(
                "libarchive\0form".getBytes(StandardCharsets.UTF_8),
                xattr(image, "/rootfs/bin/libarchive", "user.drafter lib"));
        assertArrayEquals(
                "on the link itself".getBytes(StandardCharsets.UTF_8),
                xattr(image, "/rootfs/bin/link", "trusted.drafter.link"));
        assertFalse(debugfs(image, "ea_list /rootfs/bin/ping").contains("trusted."), "the link's target is untouched");
        // mke2fs stores the ACL in ext4's own format; the named user 1000 (e8 03 00 00) is in it
        String acl = debugfs(image, "ea_list /rootfs/shared");
        assertTrue(acl.contains("system.posix_acl_access") && acl.contains("e8 03 00 00"), acl);
        assertFalse(debugfs(image, "ls -p /rootfs/old").contains("gone"), "whiteout applied");
        assertFalse(debugfs(image, "ea_list /rootfs/old").contains("drafter"), "a whiteout's attributes are dropped");
        assertFalse(acl.contains("drafter.opaque"), "an opaque marker's attributes are dropped");
    }

    @Test
    void xattrHeadersOnWhiteoutsLinksAndEscapesCannotReachTheHost() throws Exception {
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Path victim = Files.writeString(outside.resolve("victim"), "host file");
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        String attr = "SCHILY.xattr.user.drafter.test";
        TarArchiveEntry evil = entry("evil", TarArchiveEntry.LF_SYMLINK);
        evil.setLinkName(outside.toString());
        TarArchiveEntry hard = entry("hard", TarArchiveEntry.LF_LINK, "SCHILY.xattr.user.drafter.hard", "h");
        hard.setLinkName("evil/f");
        unpack(
                rootfs,
                "hostile",
                evil,
                entry("evil/f", TarArchiveEntry.LF_NORMAL, attr, "confined"),
                hard,
                entry("gone", TarArchiveEntry.LF_NORMAL),
                entry(".wh.gone", TarArchiveEntry.LF_NORMAL, attr, "whiteout"),
                entry("d/", TarArchiveEntry.LF_DIR),
                entry("d/.wh..wh..opq", TarArchiveEntry.LF_NORMAL, attr, "opaque"));
        Path inside = rootfs.resolve(outside.toString().substring(1)).resolve("f");
        assertArrayEquals("confined".getBytes(StandardCharsets.UTF_8), userXattr(inside, "drafter.test"));
        assertEquals(List.of(victim), Files.list(outside).toList(), "nothing written outside the rootfs");
        assertEquals(null, userXattr(inside, "drafter.hard"), "a hard link entry's attributes are not applied");
        assertFalse(Files.exists(rootfs.resolve("gone"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(rootfs.resolve(".wh.gone"), LinkOption.NOFOLLOW_LINKS));
        assertEquals(null, userXattr(rootfs, "drafter.test"), "a whiteout gives its directory nothing");
        assertEquals(null, userXattr(rootfs.resolve("d"), "drafter.test"), "an opaque marker gives nothing");

        // lsetxattr sets a symlink's own attributes; user.* is not allowed there, and the target is untouched
        TarArchiveEntry esc = entry("esc", TarArchiveEntry.LF_SYMLINK, attr, "through the link?");
        esc.setLinkName(victim.toString());
        IOException onLink = assertThrows(IOException.class, () -> unpack(rootfs, "hostile", esc));
        assertTrue(
                onLink.getMessage()
                        .startsWith("could not unpack hostile: entry 'esc': could not lsetxattr "
                                + "user.drafter.test on " + rootfs.resolve("esc") + " (EPERM)"),
                onLink.getMessage());
        assertEquals(null, userXattr(victim, "drafter.test"));

        dotDotIsRefused(rootfs, entry("../escape", TarArchiveEntry.LF_NORMAL, attr, "x"));
    }

    @Test
    void globalPaxHeadersGiveAttributesToLaterEntries() throws Exception {
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        unpack(
                rootfs,
                "global",
                entry("a", TarArchiveEntry.LF_NORMAL),
                entry(
                        "PaxHeaders/global",
                        TarArchiveEntry.LF_PAX_GLOBAL_EXTENDED_HEADER,
                        "SCHILY.xattr.user.drafter.global",
                        "g"),
                entry("b", TarArchiveEntry.LF_NORMAL, "SCHILY.xattr.user.drafter.local", "l"),
                entry("c", TarArchiveEntry.LF_NORMAL, "SCHILY.xattr.user.drafter.global", "c"));
        assertEquals(null, userXattr(rootfs.resolve("a"), "drafter.global"));
        assertArrayEquals(new byte[] {'g'}, userXattr(rootfs.resolve("b"), "drafter.global"));
        assertArrayEquals(new byte[] {'l'}, userXattr(rootfs.resolve("b"), "drafter.local"));
        assertArrayEquals(new byte[] {'c'}, userXattr(rootfs.resolve("c"), "drafter.global"), "local wins");
    }

    @Test
    void malformedOrUnsupportedXattrHeadersFailClearly() throws Exception {
        Map<String, String[]> cases = new LinkedHashMap<>();
        cases.put(
                "LIBARCHIVE.xattr.user.drafter.test is not valid base64",
                new String[] {"LIBARCHIVE.xattr.user.drafter.test", "not*base64!"});
        cases.put("LIBARCHIVE.xattr.user.%zz has a bad %-escape", new String[] {"LIBARCHIVE.xattr.user.%zz", "eA=="});
        cases.put(
                "extended attribute user.drafter.test is given twice with different values",
                new String[] {"LIBARCHIVE.xattr.user.drafter.test", "eA==", "SCHILY.xattr.user.drafter.test", "y"});
        cases.put("SCHILY.xattr. names no valid extended attribute", new String[] {"SCHILY.xattr.", "x"});
        int i = 0;
        for (Map.Entry<String, String[]> c : cases.entrySet()) {
            IOException e = unpackFails(Files.createDirectories(dir.resolve("rootfs" + i++)), c.getValue());
            assertTrue(e.getMessage().contains(c.getKey()), e.getMessage());
        }
        // a namespace the kernel does not know: the host refuses it, and the unpack says so instead of dropping it
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        IOException e = unpackFails(rootfs, "SCHILY.xattr.drafter.test", "x");
        assertTrue(
                e.getMessage()
                        .endsWith("could not lsetxattr drafter.test on " + rootfs.resolve("bad")
                                + " (EOPNOTSUPP: not supported by this file system or kernel)"),
                e.getMessage());
    }

    /** Unpacking a file "bad" with the PAX headers {@code xattrs} fails; returns the error. */
    private static IOException unpackFails(Path rootfs, String... xattrs) {
        TarArchiveEntry bad = entry("bad", TarArchiveEntry.LF_NORMAL, xattrs);
        IOException e = assertThrows(IOException.class, () -> unpack(rootfs, "layer 1/1", bad));
        assertTrue(e.getMessage().startsWith("could not unpack layer 1/1: entry 'bad': "), e.getMessage());
        return e;
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
        unpack(
                rootfs,
                "hostile",
                abs,
                new TarArchiveEntry("evil/pwned", TarArchiveEntry.LF_NORMAL, true),
                rel,
                new TarArchiveEntry("up/pwned2", TarArchiveEntry.LF_NORMAL, true));
        assertEquals(List.of(), Files.list(outside).toList(), "nothing written outside the rootfs");
        Path inside = rootfs.resolve(outside.toString().substring(1));
        assertTrue(Files.isRegularFile(inside.resolve("pwned"), LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.isRegularFile(inside.resolve("pwned2"), LinkOption.NOFOLLOW_LINKS));

        Files.writeString(outside.resolve("victim"), "host file");
        IOException e = assertThrows(IOException.class, () -> unpack(rootfs, "hostile", hard));
        assertTrue(e.getMessage().contains("not in the image"), e.getMessage());

        dotDotIsRefused(rootfs, new TarArchiveEntry("../escape", TarArchiveEntry.LF_NORMAL, true));
    }

    @Test
    void deviceNodesAreCreated() throws Exception {
        Path rootfs = Files.createDirectories(dir.resolve("rootfs"));
        TarArchiveEntry nul = new TarArchiveEntry("dev/null", TarArchiveEntry.LF_CHR);
        nul.setDevMajor(1);
        nul.setDevMinor(3);
        nul.setMode(0666);
        unpack(rootfs, "dev", nul);
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
