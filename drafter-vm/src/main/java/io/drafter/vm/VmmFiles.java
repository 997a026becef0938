package io.drafter.vm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/**
 * Modes and owners of the files a VMM uses: private to root, or shared with the {@link VmmUser} it runs as.
 *
 * <p>A VMM dropped to a user can still use what it opened before (kernel, initramfs, guest RAM, sockets, console log),
 * but not open anything else that user may not open. These helpers give it exactly the files it needs and check the
 * rest before a VM starts, so that a mistake is one clear error instead of a snapshot that fails halfway.
 *
 * <p>Only the classic owner/group/other bits are considered (ACLs are not); a user is in its own group only, as QEMU
 * sets it ({@code setgroups(1, &gid)}).
 */
public final class VmmFiles {
    private VmmFiles() {}

    /**
     * Creates (or replaces) an empty file with mode 0600, owned by {@code user} when given: the file the VMM writes
     * into after it has dropped its privileges (a snapshot's state file).
     */
    public static void createPrivate(Path file, VmmUser user) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        if (user != null) {
            giveTo(file, user);
        }
    }

    /** Makes {@code file} mode 0600 and owned by {@code user}: only root and the VMM may open it. */
    public static void giveTo(Path file, VmmUser user) throws IOException {
        // NOFOLLOW: a link placed where the file should be must not hand another file over.
        Files.setAttribute(file, "unix:uid", user.uid(), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(file, "unix:gid", user.gid(), LinkOption.NOFOLLOW_LINKS);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    }

    /**
     * Restricts a directory of the VMM's (run or work directory): mode 0700, or, with a {@code user}, root-owned with
     * the user's group and mode 0710: the VMM can reach the files it is given in there but not list, create or replace
     * any (a symbolic link it planted would otherwise redirect root's next write).
     */
    public static void restrictDir(Path dir, VmmUser user) throws IOException {
        if (user == null) {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            return;
        }
        Files.setAttribute(dir, "unix:gid", user.gid(), LinkOption.NOFOLLOW_LINKS);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x---"));
    }

    /**
     * Why {@code user} could not open {@code file} (for reading, and writing with {@code write}), or {@code null} if
     * it can: a directory on the way it may not search, or the file's own mode.
     */
    public static String unreachable(Path file, VmmUser user, boolean write) throws IOException {
        return check(file, user, write ? 6 : 4, write ? "read and write" : "read");
    }

    /** Why {@code user} could not reach files in {@code dir}, or {@code null} if it can. */
    public static String unsearchable(Path dir, VmmUser user) throws IOException {
        return check(dir, user, 1, "search directory");
    }

    private static String check(Path p, VmmUser user, int bits, String verb) throws IOException {
        Path real;
        try {
            real = p.toRealPath();
        } catch (NoSuchFileException e) {
            return p + " does not exist";
        }
        for (Path dir = real.getParent(); dir != null; dir = dir.getParent()) {
            if (!allows(dir, user, 1)) {
                return "it cannot search directory " + dir + " (" + describe(dir) + ")";
            }
        }
        if (!allows(real, user, bits)) {
            return "it cannot " + verb + " " + real + " (" + describe(real) + ")";
        }
        return null;
    }

    /** Whether {@code user} has all {@code bits} (4 read, 2 write, 1 search) of {@code p}'s mode. */
    private static boolean allows(Path p, VmmUser user, int bits) throws IOException {
        Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid");
        int mode = (Integer) a.get("mode");
        int granted;
        if ((Integer) a.get("uid") == user.uid()) {
            granted = mode >> 6;
        } else if ((Integer) a.get("gid") == user.gid()) {
            granted = mode >> 3;
        } else {
            granted = mode;
        }
        return (granted & bits) == bits;
    }

    private static String describe(Path p) throws IOException {
        Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid");
        return String.format("mode %04o, owner %d:%d", (Integer) a.get("mode") & 07777, a.get("uid"), a.get("gid"));
    }
}
