package io.drafter.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the mount table of this process's mount namespace ({@code /proc/self/mountinfo}).
 *
 * <p><b>Note:</b> thread-safe (stateless).
 */
public final class MountTable {
    private MountTable() {}

    /** One mount: its device number ({@code major:minor}), where it is mounted, its type and its source. */
    public record Entry(String majorMinor, String mountPoint, String fsType, String source) {}

    /** Every mount, in the kernel's order (later entries are mounted on top of earlier ones). */
    public static List<Entry> read() throws IOException {
        List<Entry> entries = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            Entry e = parse(line);
            if (e != null) {
                entries.add(e);
            }
        }
        return entries;
    }

    /** The mounts whose mount point is exactly {@code mountPoint} (an absolute, normalized path). */
    public static List<Entry> at(Path mountPoint) throws IOException {
        String wanted = mountPoint.toString();
        return read().stream().filter(e -> e.mountPoint().equals(wanted)).toList();
    }

    /**
     * Parses one line of {@code mountinfo}: {@code id parent major:minor root mountpoint options [optional...] -
     * fstype source superoptions}; {@code null} if malformed.
     */
    static Entry parse(String line) {
        String[] f = line.split(" ");
        int dash = -1;
        for (int i = 6; i < f.length; i++) {
            if (f[i].equals("-")) {
                dash = i;
                break;
            }
        }
        if (f.length < 7 || dash < 0 || dash + 2 >= f.length) {
            return null;
        }
        return new Entry(f[2], unescape(f[4]), f[dash + 1], unescape(f[dash + 2]));
    }

    /** Undoes the kernel's octal escapes ({@code \040} for space, {@code \011}, {@code \012}, {@code \134}). */
    static String unescape(String s) {
        if (s.indexOf('\\') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                String oct = s.substring(i + 1, i + 4);
                if (oct.chars().allMatch(ch -> ch >= '0' && ch <= '7')) {
                    b.append((char) Integer.parseInt(oct, 8));
                    i += 3;
                    continue;
                }
            }
            b.append(c);
        }
        return b.toString();
    }
}
