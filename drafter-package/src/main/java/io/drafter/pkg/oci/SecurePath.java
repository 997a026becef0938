package io.drafter.pkg.oci;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Resolves a path inside a root directory the way the kernel would after {@code chroot(root)}: symlinks
 * met on the way are followed but can never lead out of {@code root} ({@code ..} stops at the root,
 * absolute link targets restart at the root). Used so that a hostile image layer cannot make us write
 * outside the root file system (e.g. a symlink {@code etc -> /etc} followed by a file {@code etc/passwd}).
 *
 * <p>Not safe against a concurrent writer changing the tree; the unpacker is the only writer.
 */
final class SecurePath {
    private static final int MAX_LINKS = 40;

    private SecurePath() {}

    /** Splits a slash-separated name into its components, dropping empty and {@code .} parts. */
    static List<String> components(String name) {
        List<String> out = new ArrayList<>();
        for (String c : name.split("/")) {
            if (!c.isEmpty() && !c.equals(".")) {
                out.add(c);
            }
        }
        return out;
    }

    /**
     * Resolves {@code name} under {@code root}.
     *
     * @param followLast whether a symlink in the last component is followed too
     * @return a path under {@code root} none of whose intermediate components is a symlink
     */
    static Path resolve(Path root, String name, boolean followLast) throws IOException {
        Deque<String> todo = new ArrayDeque<>(components(name));
        List<String> done = new ArrayList<>();
        int links = 0;
        while (!todo.isEmpty()) {
            String c = todo.pollFirst();
            if (c.equals("..")) {
                if (!done.isEmpty()) {
                    done.removeLast();
                }
                continue;
            }
            Path candidate = join(root, done).resolve(c);
            if ((followLast || !todo.isEmpty()) && Files.isSymbolicLink(candidate)) {
                if (++links > MAX_LINKS) {
                    throw new IOException("could not resolve " + name + " in the image: too many symlinks (ELOOP)");
                }
                String target = Files.readSymbolicLink(candidate).toString();
                if (target.startsWith("/")) {
                    done.clear();
                }
                List<String> parts = components(target);
                for (int i = parts.size() - 1; i >= 0; i--) {
                    todo.addFirst(parts.get(i));
                }
                continue;
            }
            done.add(c);
        }
        return join(root, done);
    }

    private static Path join(Path root, List<String> parts) {
        Path p = root;
        for (String s : parts) {
            p = p.resolve(s);
        }
        return p;
    }
}
