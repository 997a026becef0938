package io.drafter.pkg.oci;

import static io.drafter.pkg.BoundedTarInputStream.printable;

import io.drafter.linux.Libc;
import io.drafter.linux.LinuxException;
import io.drafter.pkg.BoundedTarInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;

/**
 * Applies OCI image layers (uncompressed tar streams) one after the other to a root file system directory,
 * honouring whiteouts ({@code .wh.<name>} deletes a lower entry of the same directory, {@code .wh..wh..opq}
 * empties a directory of everything lower layers put there; a whiteout naming {@code .}, {@code ..} or
 * nothing is refused) and keeping owners, all mode bits, symlinks, hard links, device
 * nodes, extended attributes and modification times, so that {@code mkfs.ext4 -d} copies them into the
 * image. Every path is resolved inside the root ({@link SecurePath}); entries that would escape it are
 * refused.
 *
 * <p>Extended attributes come from the entry's PAX header ({@link XattrTarInputStream}) and are set with
 * {@code lsetxattr} on the entry just created, after owner and mode ({@code chown} clears
 * {@code security.capability}): every namespace, so also {@code security.capability}, {@code trusted.*}
 * and POSIX ACLs ({@code system.posix_acl_*}). One the host file system refuses fails the unpack, naming
 * the entry and the attribute, rather than being dropped. Whiteout entries and hard links (which share
 * the inode of their target) are not given attributes.
 *
 * <p>Owners, device nodes and attributes outside {@code user.*} need root; without it they are skipped (the
 * caller decides whether that is acceptable). Not thread-safe.
 */
final class LayerUnpacker {
    static final String WHITEOUT_PREFIX = ".wh.";
    static final String OPAQUE = ".wh..wh..opq";
    /**
     * Entries of one layer: more than any real image has in a layer, few enough that the names this unpacker
     * remembers per layer (for opaque directories) stay within a few hundred MiB.
     */
    static final int MAX_ENTRIES_PER_LAYER = 1 << 20;
    /** Linux's PATH_MAX: longer entry or link names cannot be created, and would flood error messages. */
    static final int MAX_NAME_BYTES = 4096;

    private static final int S_IFCHR = 0020000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFIFO = 0010000;

    private final Path root;
    private final boolean privileged;
    private final int maxEntries;

    LayerUnpacker(Path root, boolean privileged) {
        this(root, privileged, MAX_ENTRIES_PER_LAYER);
    }

    LayerUnpacker(Path root, boolean privileged, int maxEntries) {
        this.root = root;
        this.privileged = privileged;
        this.maxEntries = maxEntries;
    }

    /** Applies one layer; {@code layerName} names it in errors. */
    void apply(InputStream layerTar, String layerName) throws IOException {
        Set<Path> createdHere = new HashSet<>();
        XattrTarInputStream tar = new XattrTarInputStream(layerTar, maxEntries);
        TarArchiveEntry e;
        while ((e = nextEntry(tar, layerName)) != null) {
            String name = e.getName();
            checkName(name, name, "name", layerName);
            checkName(name, e.getLinkName(), "link target", layerName);
            List<String> parts = SecurePath.components(name);
            if (parts.isEmpty()) {
                continue; // the layer's root directory itself
            }
            if (parts.contains("..")) {
                throw new IOException(
                        "could not unpack " + layerName + ": refusing entry '" + printable(name) + "' (contains '..')");
            }
            String base = parts.getLast();
            String parentName = String.join("/", parts.subList(0, parts.size() - 1));
            Path parent = SecurePath.resolve(root, parentName, true);
            if (!Files.isDirectory(parent, LinkOption.NOFOLLOW_LINKS)) {
                if (Files.exists(parent, LinkOption.NOFOLLOW_LINKS)) {
                    deleteRecursively(parent);
                }
                Files.createDirectories(parent);
            }
            if (base.equals(OPAQUE)) {
                try (DirectoryStream<Path> children = Files.newDirectoryStream(parent)) {
                    for (Path child : children) {
                        if (!createdHere.contains(child)) {
                            deleteRecursively(child);
                        }
                    }
                }
                continue;
            }
            if (base.startsWith(WHITEOUT_PREFIX)) {
                deleteRecursively(whitedOut(parent, base, name, layerName));
                continue;
            }
            Path target = parent.resolve(base);
            createdHere.add(target);
            boolean exists = Files.exists(target, LinkOption.NOFOLLOW_LINKS);
            if (exists && !(e.isDirectory() && Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS))) {
                deleteRecursively(target);
            }
            if (e.isDirectory()) {
                if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(target);
                }
            } else if (e.isSymbolicLink()) {
                Files.createSymbolicLink(target, Path.of(e.getLinkName()));
            } else if (e.isLink()) {
                Path existing = SecurePath.resolve(root, e.getLinkName(), false);
                if (!Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
                    throw new IOException("could not unpack " + layerName + ": hard link '" + printable(name)
                            + "' points to '" + printable(e.getLinkName()) + "', which is not in the image");
                }
                Files.createLink(target, existing);
                continue; // a hard link shares the inode: its metadata is the target's
            } else if (e.isCharacterDevice() || e.isBlockDevice() || e.isFIFO()) {
                if (!privileged) {
                    continue;
                }
                int type = e.isCharacterDevice() ? S_IFCHR : e.isBlockDevice() ? S_IFBLK : S_IFIFO;
                try {
                    Libc.mknod(target.toString(), type | (e.getMode() & 07777), e.getDevMajor(), e.getDevMinor());
                } catch (LinuxException x) {
                    throw new IOException(x.shortMessage(), x);
                }
            } else if (e.isFile()) {
                Files.copy(tar, target, StandardCopyOption.REPLACE_EXISTING);
            } else {
                // GNU long-name / PAX records are consumed by commons-compress; anything else is unknown
                throw new IOException("could not unpack " + layerName + ": entry '" + printable(name)
                        + "' has unsupported tar type '" + printable(String.valueOf((char) e.getLinkFlag())) + "'");
            }
            try {
                applyMetadata(e, target, tar.xattrs(e));
            } catch (IOException x) {
                throw new IOException(
                        "could not unpack " + layerName + ": entry '" + printable(name) + "': " + x.getMessage(), x);
            }
        }
    }

    /** Refuses entry {@code name} if {@code value}, its name or link target, is too long or holds a NUL. */
    private static void checkName(String name, String value, String what, String layerName) throws IOException {
        int bytes = value.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > MAX_NAME_BYTES) {
            throw new IOException("could not unpack " + layerName + ": refusing entry '" + printable(name) + "': its "
                    + what + " has " + bytes + " bytes, more than the limit of " + MAX_NAME_BYTES);
        }
        if (value.indexOf('\0') >= 0) {
            // a GNU long name or a PAX path may hold one; no file can be named so
            throw new IOException("could not unpack " + layerName + ": refusing entry '" + printable(name) + "': its "
                    + what + " holds a NUL byte");
        }
    }

    private static TarArchiveEntry nextEntry(XattrTarInputStream tar, String layerName) throws IOException {
        try {
            return tar.getNextEntry();
        } catch (BoundedTarInputStream.LimitException e) {
            throw new IOException("could not unpack " + layerName + ": " + e.getMessage(), e);
        }
    }

    /**
     * The entry that whiteout {@code base} in {@code parent} deletes: a sibling of the marker. A name that is
     * empty, {@code .} or {@code ..} ({@code .wh.}, {@code .wh..}, {@code .wh...}) would delete the marker's
     * directory or one above it, up to the rootfs itself, so the layer is refused, as containerd does ("invalid
     * whiteout name"): ignoring it would hide a broken or hostile image and give another rootfs than other
     * runtimes refuse to build.
     */
    private Path whitedOut(Path parent, String base, String name, String layerName) throws IOException {
        String target = base.substring(WHITEOUT_PREFIX.length());
        Path dir = parent.normalize();
        Path gone = dir.resolve(target).normalize();
        // the name checks suffice (base has no '/'); the path checks keep a later change from reopening this
        if (target.isEmpty()
                || target.equals(".")
                || target.equals("..")
                || !dir.equals(gone.getParent())
                || !gone.startsWith(root.normalize())) {
            throw new IOException("could not unpack " + layerName + ": refusing whiteout '" + printable(name)
                    + "': it names '" + printable(target) + "', not an entry of its directory");
        }
        return gone;
    }

    private void applyMetadata(TarArchiveEntry e, Path target, Map<String, byte[]> xattrs) throws IOException {
        String path = target.toString();
        try {
            if (privileged) {
                Libc.lchown(path, (int) e.getLongUserId(), (int) e.getLongGroupId());
            }
            if (!e.isSymbolicLink()) {
                // after chown: chown clears set-uid/set-gid bits
                Libc.chmod(path, e.getMode());
            }
            // after chown and chmod: chown clears security.capability; lsetxattr does not follow a symlink
            for (Map.Entry<String, byte[]> x : xattrs.entrySet()) {
                if (privileged || x.getKey().startsWith("user.")) {
                    Libc.lsetxattr(path, x.getKey(), x.getValue());
                }
            }
        } catch (LinuxException x) {
            throw new IOException(x.shortMessage(), x);
        }
        setTime(target, e);
    }

    private static void setTime(Path target, TarArchiveEntry e) {
        FileTime t = FileTime.from(e.getModTime().toInstant());
        try {
            Files.getFileAttributeView(target, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .setTimes(t, null, null);
        } catch (IOException | UnsupportedOperationException ignored) {
            // times are cosmetic; a symlink's time cannot be set on every JDK/file system
        }
    }

    /** Deletes {@code p} and, if it is a real directory, everything under it; symlinks are not followed. */
    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(p);
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
