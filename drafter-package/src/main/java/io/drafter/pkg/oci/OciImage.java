package io.drafter.pkg.oci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.luben.zstd.ZstdInputStream;
import io.drafter.pkg.BoundedTarInputStream;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * A container image read from disk: an OCI image layout directory ({@code oci-layout}, {@code index.json},
 * {@code blobs/sha256/…}), a {@code docker save} archive ({@code manifest.json}), or either of them as a
 * tar file. Manifests and configs are checked against their sha256 digests; layers are checked while
 * they are read ({@link #openLayer}).
 *
 * @param config the image configuration
 * @param layers layers, lowest first
 */
public record OciImage(ImageConfig config, List<Layer> layers) {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern DIGEST = Pattern.compile("sha256:[0-9a-f]{64}");
    private static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
    private static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
    /** Entries of an image tar: a few files per layer and manifest, so far more than any image has. */
    static final int MAX_ARCHIVE_ENTRIES = 1 << 16;

    /**
     * One layer blob.
     *
     * @param blob file holding the (possibly compressed) layer tar
     * @param digest expected {@code sha256:…} of the blob, or empty when the format has none (docker save)
     */
    public record Layer(Path blob, String digest) {}

    /**
     * Reads the image at {@code source}, choosing the manifest for {@code wanted} from an image index.
     *
     * @param scratch empty directory for unpacking a tar source (unused for directories)
     * @throws IOException naming what is wrong, e.g. an image for another architecture
     */
    public static OciImage open(Path source, Platform wanted, Path scratch) throws IOException {
        Path dir = source;
        if (!Files.isDirectory(source)) {
            if (!Files.isRegularFile(source)) {
                throw new IOException("could not read image " + source + ": no such file or directory");
            }
            dir = scratch;
            unpackArchive(source, dir);
        }
        OciImage image;
        if (Files.isRegularFile(dir.resolve("index.json"))) {
            image = fromLayout(dir, wanted, source);
        } else if (Files.isRegularFile(dir.resolve("manifest.json"))) {
            image = fromDockerArchive(dir, source);
        } else {
            throw new IOException("could not read image " + source
                    + ": neither an OCI image layout (index.json) nor a docker archive (manifest.json)");
        }
        Platform actual = image.config().platform();
        if (!wanted.accepts(actual)) {
            throw new IOException("could not use image " + source + ": it is built for " + actual + ", not " + wanted
                    + " (choose another with --platform only if this host can run it)");
        }
        return image;
    }

    private static OciImage fromLayout(Path dir, Platform wanted, Path source) throws IOException {
        JsonNode index = readJson(dir.resolve("index.json"), source);
        JsonNode manifest = chooseManifest(dir, index, wanted, source, 0);
        JsonNode configDesc = manifest.path("config");
        JsonNode config = readJson(blob(dir, configDesc, source), source);
        verify(blob(dir, configDesc, source), configDesc.path("digest").asText(), source);
        List<Layer> layers = new ArrayList<>();
        for (JsonNode l : manifest.path("layers")) {
            String digest = l.path("digest").asText();
            layers.add(new Layer(blob(dir, l, source), digest));
        }
        return new OciImage(parseConfig(config, source), layers);
    }

    private static JsonNode chooseManifest(Path dir, JsonNode index, Platform wanted, Path source, int depth)
            throws IOException {
        JsonNode manifests = index.path("manifests");
        if (!manifests.isArray() || manifests.isEmpty()) {
            throw new IOException("could not read image " + source + ": index lists no manifests");
        }
        if (depth > 4) {
            throw new IOException("could not read image " + source + ": image indexes nested too deeply");
        }
        List<String> offered = new ArrayList<>();
        JsonNode chosen = null;
        for (JsonNode m : manifests) {
            JsonNode p = m.path("platform");
            if (p.isMissingNode()) {
                chosen = chosen == null ? m : chosen;
                continue;
            }
            Platform platform = new Platform(
                    p.path("os").asText(),
                    p.path("architecture").asText(),
                    p.path("variant").asText(""));
            offered.add(platform.toString());
            if (wanted.accepts(platform) && (chosen == null || !chosen.has("platform"))) {
                chosen = m;
            }
        }
        if (chosen == null) {
            throw new IOException("could not use image " + source + ": it has no manifest for " + wanted + " (it has "
                    + String.join(", ", offered) + ")");
        }
        Path path = blob(dir, chosen, source);
        verify(path, chosen.path("digest").asText(), source);
        JsonNode node = readJson(path, source);
        String type = chosen.path("mediaType").asText(node.path("mediaType").asText());
        if (type.equals(OCI_INDEX) || type.equals(DOCKER_LIST) || node.has("manifests")) {
            return chooseManifest(dir, node, wanted, source, depth + 1);
        }
        return node;
    }

    private static OciImage fromDockerArchive(Path dir, Path source) throws IOException {
        JsonNode manifest = readJson(dir.resolve("manifest.json"), source);
        if (!manifest.isArray() || manifest.size() != 1) {
            throw new IOException("could not read image " + source
                    + ": manifest.json must describe exactly one image, it has " + manifest.size());
        }
        JsonNode m = manifest.get(0);
        Path configPath = inside(dir, m.path("Config").asText(), source);
        List<Layer> layers = new ArrayList<>();
        for (JsonNode l : m.path("Layers")) {
            layers.add(new Layer(inside(dir, l.asText(), source), ""));
        }
        return new OciImage(parseConfig(readJson(configPath, source), source), layers);
    }

    static ImageConfig parseConfig(JsonNode config, Path source) throws IOException {
        String os = config.path("os").asText("");
        String arch = config.path("architecture").asText("");
        if (os.isEmpty() || arch.isEmpty()) {
            throw new IOException("could not read image " + source + ": its config names no os/architecture");
        }
        JsonNode c = config.path("config");
        Map<String, String> labels = new LinkedHashMap<>();
        c.path("Labels")
                .properties()
                .forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
        return new ImageConfig(
                new Platform(os, arch, config.path("variant").asText("")),
                strings(c.path("Entrypoint")),
                strings(c.path("Cmd")),
                strings(c.path("Env")),
                c.path("WorkingDir").asText(""),
                c.path("User").asText(""),
                labels);
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        for (JsonNode n : array) {
            out.add(n.asText());
        }
        return out;
    }

    private static Path blob(Path dir, JsonNode descriptor, Path source) throws IOException {
        String digest = descriptor.path("digest").asText();
        if (!DIGEST.matcher(digest).matches()) {
            throw new IOException(
                    "could not read image " + source + ": unsupported or malformed digest '" + digest + "'");
        }
        Path p = dir.resolve("blobs").resolve("sha256").resolve(digest.substring(7));
        if (!Files.isRegularFile(p)) {
            throw new IOException("could not read image " + source + ": blob " + digest + " is missing");
        }
        return p;
    }

    private static Path inside(Path dir, String name, Path source) throws IOException {
        Path p = dir.resolve(name).normalize();
        if (name.isEmpty() || !p.startsWith(dir.normalize()) || !Files.isRegularFile(p)) {
            throw new IOException("could not read image " + source + ": manifest.json names a missing or outside file '"
                    + name + "'");
        }
        return p;
    }

    private static JsonNode readJson(Path p, Path source) throws IOException {
        if (Files.size(p) > 16 << 20) {
            throw new IOException("could not read image " + source + ": " + p.getFileName() + " is larger than 16 MiB");
        }
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new IOException("could not read image " + source + ": " + p.getFileName() + " is not valid JSON ("
                    + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    private static void verify(Path p, String digest, Path source) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            String actual = sha256(in);
            if (!digest.equals(actual)) {
                throw new IOException("could not read image " + source + ": blob " + digest + " has digest " + actual);
            }
        }
    }

    static String sha256(InputStream in) throws IOException {
        MessageDigest md = sha256();
        byte[] buf = new byte[1 << 16];
        int n;
        while ((n = in.read(buf)) > 0) {
            md.update(buf, 0, n);
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Opens a layer as an uncompressed tar stream (gzip and zstd are recognised by their magic bytes).
     * When the stream is closed after being read to its end, the blob digest has been checked;
     * {@link VerifiedLayer#verify()} throws if it does not match.
     */
    static VerifiedLayer openLayer(Layer layer) throws IOException {
        MessageDigest md = sha256();
        InputStream raw = new BufferedInputStream(
                new DigestInputStream(new BufferedInputStream(Files.newInputStream(layer.blob()), 1 << 16), md),
                1 << 16);
        raw.mark(4);
        byte[] magic = raw.readNBytes(4);
        raw.reset();
        InputStream tar;
        if (magic.length >= 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b) {
            tar = GzipCompressorInputStream.builder()
                    .setInputStream(raw)
                    .setDecompressConcatenated(true)
                    .get();
        } else if (magic.length == 4
                && (magic[0] & 0xff) == 0x28
                && (magic[1] & 0xff) == 0xb5
                && (magic[2] & 0xff) == 0x2f
                && (magic[3] & 0xff) == 0xfd) {
            tar = new ZstdInputStream(raw);
        } else {
            tar = raw;
        }
        return new VerifiedLayer(tar, raw, md, layer);
    }

    /** An open layer: read {@link #tar()} to its end, then call {@link #verify()}. */
    record VerifiedLayer(InputStream tar, InputStream raw, MessageDigest md, Layer layer) implements AutoCloseable {
        void verify() throws IOException {
            raw.transferTo(OutputStreamNull.INSTANCE);
            if (layer.digest().isEmpty()) {
                return;
            }
            String actual = "sha256:" + HexFormat.of().formatHex(md.digest());
            if (!actual.equals(layer.digest())) {
                throw new IOException("could not unpack layer " + layer.digest() + ": blob has digest " + actual);
            }
        }

        @Override
        public void close() throws IOException {
            tar.close();
        }
    }

    private static final class OutputStreamNull extends java.io.OutputStream {
        static final OutputStreamNull INSTANCE = new OutputStreamNull();

        @Override
        public void write(int b) {}

        @Override
        public void write(byte[] b, int off, int len) {}
    }

    private static TarArchiveEntry nextEntry(BoundedTarInputStream tar, Path archive) throws IOException {
        try {
            return tar.getNextEntry();
        } catch (BoundedTarInputStream.LimitException e) {
            throw new IOException("could not read image " + archive + ": " + e.getMessage(), e);
        }
    }

    /**
     * Unpacks an image tar (OCI layout or docker save) into {@code dir}: regular files and directories only;
     * symlinks (docker save links duplicate layers) become copies of their target inside the archive.
     */
    private static void unpackArchive(Path archive, Path dir) throws IOException {
        Files.createDirectories(dir);
        Map<Path, String> links = new LinkedHashMap<>();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(archive), 1 << 16);
                BoundedTarInputStream tar = new BoundedTarInputStream(in, MAX_ARCHIVE_ENTRIES)) {
            TarArchiveEntry e;
            while ((e = nextEntry(tar, archive)) != null) {
                List<String> parts = SecurePath.components(e.getName());
                if (parts.isEmpty()) {
                    continue;
                }
                if (parts.contains("..")) {
                    throw new IOException("could not read image " + archive + ": refusing entry '" + e.getName() + "'");
                }
                Path target = dir.resolve(String.join("/", parts));
                if (e.isDirectory()) {
                    Files.createDirectories(target);
                } else if (e.isFile()) {
                    Files.createDirectories(target.getParent());
                    Files.copy(tar, target);
                } else if (e.isSymbolicLink() || e.isLink()) {
                    links.put(target, e.isLink() ? "/" + e.getLinkName() : e.getLinkName());
                } else {
                    throw new IOException("could not read image " + archive + ": refusing entry '" + e.getName()
                            + "' (device or unknown type)");
                }
            }
        }
        for (var link : links.entrySet()) {
            Path from = link.getKey();
            String to = link.getValue();
            Path target = (to.startsWith("/")
                            ? dir.resolve(to.substring(1))
                            : from.getParent().resolve(to))
                    .normalize();
            if (!target.startsWith(dir) || !Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException("could not read image " + archive + ": link '" + dir.relativize(from)
                        + "' points outside the archive or to a missing file");
            }
            Files.createDirectories(from.getParent());
            Files.copy(target, from);
        }
    }
}
