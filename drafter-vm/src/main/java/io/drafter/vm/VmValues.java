package io.drafter.vm;

import io.drafter.base.DeviceRole;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The values a VM setting may take, for every setting that reaches QEMU's command line, {@code ip netns exec} or a
 * path: allow-lists and strict patterns, so that a package's {@code config.json} (or a migration's copy of it) can
 * never add a QEMU option ({@code mac=…,romfile=/etc/shadow}) or name a file.
 *
 * <p>Each check returns its value or throws {@link IllegalArgumentException} with one line that names the field and
 * the value, quoted, truncated to {@value #SHOWN_CHARS} characters and with anything but printable ASCII escaped:
 * {@code mac "02:00:00:00:00:01,romfile=/etc/shadow" is not six hex octets}. Callers put the step before it.
 */
public final class VmValues {
    /** Guest RAM bounds, MiB: QEMU's smallest useful guest, and 1 TiB. */
    public static final int MIN_MEMORY_MIB = 16;

    public static final int MAX_MEMORY_MIB = 1 << 20;
    /** vCPU bounds (QEMU's x86 machines take up to 255 without an IOMMU). */
    public static final int MAX_VCPUS = 255;
    /** The kernel's command line limit on x86 ({@code COMMAND_LINE_SIZE}, 2048 with its NUL). */
    public static final int MAX_BOOT_ARGS_CHARS = 2047;
    /** Disks attached to a VM at most. */
    public static final int MAX_DRIVES = 16;

    static final int SHOWN_CHARS = 64;

    private static final Pattern MACHINE = Pattern.compile("microvm|q35|pc|pc-(q35|i440fx)-\\d{1,2}\\.\\d{1,2}");
    private static final Pattern MAC = Pattern.compile("[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}");
    /** A Linux interface name (IFNAMSIZ 16 with the NUL) of characters QEMU's option syntax leaves alone. */
    private static final Pattern INTERFACE = Pattern.compile("[A-Za-z][A-Za-z0-9._-]{0,14}");
    /** A name under /var/run/netns: one path component. */
    private static final Pattern NETNS = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    /** A QEMU id (letter first) that is also a file name on the device mount. */
    private static final Pattern DRIVE = Pattern.compile("[A-Za-z][A-Za-z0-9._-]{0,30}");

    private static final Pattern CPU_TEMPLATE = Pattern.compile("[A-Za-z0-9_-]{1,32}");
    private static final Set<String> ACCELS = Set.of("kvm", "tcg");
    /** Devices that are not disks: attaching one (say the state) would let the guest write what QEMU loads. */
    private static final Set<String> NOT_DRIVES = java.util.Arrays.stream(DeviceRole.values())
            .filter(r -> !r.isDisk())
            .map(DeviceRole::deviceName)
            .collect(java.util.stream.Collectors.toUnmodifiableSet());

    private VmValues() {}

    /** QEMU machine type: {@code microvm}, {@code q35}, {@code pc} or a versioned {@code pc-q35-X.Y}/{@code pc-i440fx-X.Y}. */
    public static String machine(String field, String value) {
        return matching(
                field, value, MACHINE, "is not a machine drafter runs (microvm, q35, pc, pc-q35-X.Y, pc-i440fx-X.Y)");
    }

    /** A unicast MAC address, six hex octets separated by colons. */
    public static String mac(String field, String value) {
        matching(field, value, MAC, "is not six hex octets (like 02:0e:d9:fd:68:3d)");
        if ((Integer.parseInt(value.substring(0, 2), 16) & 1) != 0) {
            throw invalid(field, value, "is a multicast address (the first octet must be even)");
        }
        return value;
    }

    /** A tap interface name (at most 15 characters: letters, digits, {@code . _ -}; a letter first). */
    public static String tapInterface(String field, String value) {
        return matching(
                field, value, INTERFACE, "is not an interface name (a letter, then up to 14 of A-Z a-z 0-9 . _ -)");
    }

    /** A network namespace name (one file name under /var/run/netns). */
    public static String netns(String field, String value) {
        return matching(
                field,
                value,
                NETNS,
                "is not a namespace name (up to 64 of A-Z a-z 0-9 . _ -, not starting with . _ -)");
    }

    /** A drive name: a QEMU id and a device file name; not one of the devices that must not become a disk. */
    public static String driveName(String field, String value) {
        matching(field, value, DRIVE, "is not a drive name (a letter, then up to 30 of A-Z a-z 0-9 . _ -)");
        if (NOT_DRIVES.contains(value)) {
            throw invalid(field, value, "cannot be a drive (kernel, initrd, state, memory and config are not disks)");
        }
        return value;
    }

    /** The drive names of one VM: each valid, none twice, at most {@value #MAX_DRIVES}. */
    public static List<String> driveNames(String field, List<String> names) {
        if (names == null) {
            throw new IllegalArgumentException(field + " is missing");
        }
        if (names.size() > MAX_DRIVES) {
            throw new IllegalArgumentException(field + " lists " + names.size() + " drives, at most " + MAX_DRIVES);
        }
        for (int i = 0; i < names.size(); i++) {
            String name = driveName(field + "[" + i + "]", names.get(i));
            if (names.subList(0, i).contains(name)) {
                throw invalid(field + "[" + i + "]", name, "is listed twice");
            }
        }
        return names;
    }

    /**
     * A kernel command line: printable ASCII only (no control character, so no second line and no NUL), at most
     * {@value #MAX_BOOT_ARGS_CHARS} characters. QEMU takes it as one argument, so it cannot add a QEMU option.
     */
    public static String bootArgs(String field, String value) {
        if (value == null) {
            throw new IllegalArgumentException(field + " is missing");
        }
        if (value.length() > MAX_BOOT_ARGS_CHARS) {
            throw invalid(field, value, "is " + value.length() + " characters long, at most " + MAX_BOOT_ARGS_CHARS);
        }
        if (!printable(value)) {
            throw invalid(field, value, "holds a control or non-ASCII character");
        }
        return value;
    }

    /** Guest RAM in MiB, {@value #MIN_MEMORY_MIB} to {@value #MAX_MEMORY_MIB}. */
    public static int memorySizeMiB(String field, int value) {
        if (value < MIN_MEMORY_MIB || value > MAX_MEMORY_MIB) {
            throw new IllegalArgumentException(
                    field + " " + value + " is out of range (" + MIN_MEMORY_MIB + " to " + MAX_MEMORY_MIB + " MiB)");
        }
        return value;
    }

    /** The number of vCPUs, 1 to {@value #MAX_VCPUS}. */
    public static int vcpus(String field, int value) {
        if (value < 1 || value > MAX_VCPUS) {
            throw new IllegalArgumentException(field + " " + value + " is out of range (1 to " + MAX_VCPUS + ")");
        }
        return value;
    }

    /** The accelerator a state was saved under: {@code kvm} or {@code tcg}. */
    public static String accel(String field, String value) {
        if (value == null || !ACCELS.contains(value)) {
            throw invalid(field, value, "is not kvm or tcg");
        }
        return value;
    }

    /** Firecracker's CPU template name (recorded only): up to 32 of {@code A-Z a-z 0-9 _ -}. */
    public static String cpuTemplate(String field, String value) {
        return matching(field, value, CPU_TEMPLATE, "is not a CPU template name (up to 32 of A-Z a-z 0-9 _ -)");
    }

    /** A version string (recorded, shown in logs): printable ASCII, at most 256 characters. */
    public static String versionString(String field, String value) {
        if (value == null) {
            throw new IllegalArgumentException(field + " is missing");
        }
        if (value.length() > 256 || !printable(value)) {
            throw invalid(field, value, "is not a version string (up to 256 printable ASCII characters)");
        }
        return value;
    }

    /** {@code value} quoted for an error message: cut to {@value #SHOWN_CHARS} characters, non-printables escaped. */
    public static String quote(String value) {
        return quote(value, SHOWN_CHARS);
    }

    /** {@code value} quoted for an error message: cut to {@code maxChars} characters, non-printables escaped. */
    public static String quote(String value, int maxChars) {
        if (value == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        int end = Math.min(value.length(), maxChars);
        for (int i = 0; i < end; i++) {
            char c = value.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c >= 0x20 && c < 0x7f) {
                b.append(c);
            } else {
                b.append(String.format("\\u%04x", (int) c));
            }
        }
        if (value.length() > end) {
            b.append("…");
        }
        return b.append('"').toString();
    }

    private static String matching(String field, String value, Pattern p, String problem) {
        if (value == null || !p.matcher(value).matches()) {
            throw invalid(field, value, problem);
        }
        return value;
    }

    private static boolean printable(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c >= 0x7f) {
                return false;
            }
        }
        return true;
    }

    private static IllegalArgumentException invalid(String field, String value, String problem) {
        return new IllegalArgumentException(field + " " + quote(value) + " " + problem);
    }
}
