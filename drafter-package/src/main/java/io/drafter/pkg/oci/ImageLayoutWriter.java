package io.drafter.pkg.oci;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;

/**
 * Writes an OCI image layout (image-spec 1.1: {@code oci-layout}, {@code index.json}, {@code blobs/sha256/})
 * whose layers are made from directories (each one gzip-compressed tar keeping owners, modes, symlinks,
 * hard links and device nodes; whiteout files in a directory are written as they are). The result can be
 * a directory or, when the output name ends in {@code .tar}, a tar of that directory.
 *
 * <p>Not thread-safe; used by {@code drafter oci example} and by tests.
 */
public final class ImageLayoutWriter {
    static final String MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
    static final String CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
    static final String LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
    private static final FileTime EPOCH = FileTime.fromMillis(0);

    private ImageLayoutWriter() {}

    private record Blob(String digest, long size) {}

    /**
     * Writes the image with {@code layerDirs} (lowest first) and {@code config} to {@code output} (a
     * directory, or a tar when the name ends in {@code .tar}).
     *
     * @param refName value of the {@code org.opencontainers.image.ref.name} annotation, e.g. {@code latest}
     */
    public static void write(List<Path> layerDirs, ImageConfig config, String refName, Path output) throws IOException {
        boolean asTar = output.getFileName().toString().endsWith(".tar");
        Path dir = asTar
                ? Files.createTempDirectory(output.toAbsolutePath().getParent(), ".oci-layout-")
                : Files.createDirectories(output);
        try {
            Path blobs = Files.createDirectories(dir.resolve("blobs/sha256"));
            List<Blob> layers = new ArrayList<>();
            List<String> diffIds = new ArrayList<>();
            for (Path layer : layerDirs) {
                Path tmp = Files.createTempFile(blobs, ".layer-", ".tmp");
                MessageDigest compressed = OciImage.sha256();
                MessageDigest uncompressed = OciImage.sha256();
                try (OutputStream f = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16);
                        DigestOutputStream c = new DigestOutputStream(f, compressed);
                        GzipCompressorOutputStream gz = new GzipCompressorOutputStream(c);
                        DigestOutputStream u = new DigestOutputStream(gz, uncompressed)) {
                    writeTar(layer, u);
                }
                String digest = hex(compressed);
                Files.move(tmp, blobs.resolve(digest), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                layers.add(new Blob("sha256:" + digest, Files.size(blobs.resolve(digest))));
                diffIds.add("sha256:" + hex(uncompressed));
            }
            var json = OciImage.JSON;
            ObjectNode cfg = json.createObjectNode();
            cfg.put("created", "1970-01-01T00:00:00Z");
            cfg.put("architecture", config.platform().architecture());
            if (!config.platform().variant().isEmpty()) {
                cfg.put("variant", config.platform().variant());
            }
            cfg.put("os", config.platform().os());
            ObjectNode c = cfg.putObject("config");
            if (!config.user().isEmpty()) {
                c.put("User", config.user());
            }
            array(c.putArray("Env"), config.env());
            if (!config.entrypoint().isEmpty()) {
                array(c.putArray("Entrypoint"), config.entrypoint());
            }
            if (!config.cmd().isEmpty()) {
                array(c.putArray("Cmd"), config.cmd());
            }
            if (!config.workingDir().isEmpty()) {
                c.put("WorkingDir", config.workingDir());
            }
            if (!config.labels().isEmpty()) {
                ObjectNode labels = c.putObject("Labels");
                // sorted: the same image gives the same config digest
                new java.util.TreeMap<>(config.labels()).forEach(labels::put);
            }
            ObjectNode rootfs = cfg.putObject("rootfs");
            rootfs.put("type", "layers");
            array(rootfs.putArray("diff_ids"), diffIds);
            Blob configBlob = writeBlob(blobs, json.writeValueAsBytes(cfg));

            ObjectNode manifest = json.createObjectNode();
            manifest.put("schemaVersion", 2);
            manifest.put("mediaType", MANIFEST_TYPE);
            descriptor(manifest.putObject("config"), CONFIG_TYPE, configBlob);
            ArrayNode ls = manifest.putArray("layers");
            for (Blob b : layers) {
                descriptor(ls.addObject(), LAYER_TYPE, b);
            }
            Blob manifestBlob = writeBlob(blobs, json.writeValueAsBytes(manifest));

            ObjectNode index = json.createObjectNode();
            index.put("schemaVersion", 2);
            index.put("mediaType", "application/vnd.oci.image.index.v1+json");
            ObjectNode m = index.putArray("manifests").addObject();
            descriptor(m, MANIFEST_TYPE, manifestBlob);
            ObjectNode platform = m.putObject("platform");
            platform.put("architecture", config.platform().architecture());
            platform.put("os", config.platform().os());
            m.putObject("annotations").put("org.opencontainers.image.ref.name", refName);
            Files.write(dir.resolve("index.json"), json.writeValueAsBytes(index));
            Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
            if (asTar) {
                Path tmp = output.toAbsolutePath().resolveSibling("." + output.getFileName() + ".partial");
                try (OutputStream f = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                    writeTar(dir, f);
                }
                Files.move(tmp, output, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            if (asTar) {
                LayerUnpacker.deleteRecursively(dir);
            }
        }
    }

    private static void descriptor(ObjectNode d, String type, Blob b) {
        d.put("mediaType", type);
        d.put("digest", b.digest());
        d.put("size", b.size());
    }

    private static void array(ArrayNode a, List<String> values) {
        values.forEach(a::add);
    }

    private static String hex(MessageDigest md) {
        return HexFormat.of().formatHex(md.digest());
    }

    private static Blob writeBlob(Path blobs, byte[] bytes) throws IOException {
        MessageDigest md = OciImage.sha256();
        String digest = HexFormat.of().formatHex(md.digest(bytes));
        Files.write(blobs.resolve(digest), bytes);
        return new Blob("sha256:" + digest, bytes.length);
    }

    /**
     * Writes the tree under {@code dir} as a tar (names relative to {@code dir}, directories first, sorted,
     * times zeroed for reproducibility) to {@code out}, which stays open.
     */
    static void writeTar(Path dir, OutputStream out) throws IOException {
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out);
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        Map<Object, String> inodes = new HashMap<>();
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) throws IOException {
                if (!d.equals(dir)) {
                    add(d, true);
                }
                // visit children in a stable order
                try (Stream<Path> children = Files.list(d)) {
                    for (Path child : children.sorted().toList()) {
                        if (Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS)) {
                            Files.walkFileTree(child, this);
                        } else {
                            add(child, false);
                        }
                    }
                }
                return FileVisitResult.SKIP_SUBTREE;
            }

            private void add(Path p, boolean directory) throws IOException {
                String name = dir.relativize(p).toString().replace('\\', '/') + (directory ? "/" : "");
                Map<String, Object> a =
                        Files.readAttributes(p, "unix:mode,uid,gid,ino,dev,nlink,rdev", LinkOption.NOFOLLOW_LINKS);
                int mode = (int) a.get("mode");
                int type = mode & 0170000;
                TarArchiveEntry e;
                if (type == 0120000) {
                    e = new TarArchiveEntry(name, TarArchiveEntry.LF_SYMLINK);
                    e.setLinkName(Files.readSymbolicLink(p).toString());
                } else if (directory) {
                    e = new TarArchiveEntry(name, TarArchiveEntry.LF_DIR);
                } else if (type == 0100000) {
                    Object key = List.of(a.get("dev"), a.get("ino"));
                    String first = (int) a.get("nlink") > 1 ? inodes.putIfAbsent(key, name) : null;
                    if (first != null) {
                        e = new TarArchiveEntry(name, TarArchiveEntry.LF_LINK);
                        e.setLinkName(first);
                    } else {
                        e = new TarArchiveEntry(name, TarArchiveEntry.LF_NORMAL, true);
                        e.setSize(Files.size(p));
                    }
                } else if (type == 0020000 || type == 0060000 || type == 0010000) {
                    e = new TarArchiveEntry(
                            name,
                            type == 0020000
                                    ? TarArchiveEntry.LF_CHR
                                    : type == 0060000 ? TarArchiveEntry.LF_BLK : TarArchiveEntry.LF_FIFO);
                    long rdev = (long) a.get("rdev");
                    e.setDevMajor((int) (((rdev >>> 32) & 0xfffff000L) | ((rdev >>> 8) & 0xfff)));
                    e.setDevMinor((int) (((rdev >>> 12) & 0xffffff00L) | (rdev & 0xff)));
                } else {
                    return; // sockets are not image content
                }
                e.setMode((e.getMode() & ~07777) | (mode & 07777));
                e.setUserId((int) a.get("uid"));
                e.setGroupId((int) a.get("gid"));
                e.setModTime(EPOCH);
                tar.putArchiveEntry(e);
                if (e.getLinkFlag() == TarArchiveEntry.LF_NORMAL) {
                    try (InputStream in = Files.newInputStream(p)) {
                        in.transferTo(tar);
                    }
                }
                tar.closeArchiveEntry();
            }
        });
        tar.finish();
        tar.flush();
    }
}
