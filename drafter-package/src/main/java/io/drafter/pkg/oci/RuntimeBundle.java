package io.drafter.pkg.oci;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes the OCI runtime bundle configuration ({@code config.json}, runtime-spec 1.0.2) for an unpacked
 * image: the image's entrypoint + cmd as {@code process.args}, its env (with a default {@code PATH}), working
 * directory and user (names resolved through the rootfs' {@code /etc/passwd} and {@code /etc/group}), root
 * {@code rootfs}. Like Drafter's blueprint builder it shares the VM's network (no network namespace),
 * sets hostname {@code drafterguest}, bind-mounts the guest's {@code /etc/resolv.conf}, {@code /etc/hosts},
 * {@code /etc/hostname}, and grants the capabilities a service usually needs.
 *
 * <p>The guest (crun or a chroot runner) runs {@code process} with {@code root.path} as its root.
 */
public final class RuntimeBundle {
    /** Directory of the root file system inside the bundle. */
    public static final String ROOTFS = "rootfs";

    /** Largest /etc/passwd or /etc/group read from an image (they are read whole). */
    static final long MAX_TABLE_BYTES = 16 << 20;

    static final String DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    private static final List<String> CAPABILITIES = List.of(
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETFCAP",
            "CAP_SETGID",
            "CAP_SETPCAP",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
            "CAP_AUDIT_WRITE");

    private RuntimeBundle() {}

    /** The user a process runs as. */
    record User(int uid, int gid, List<Integer> additionalGids) {}

    /**
     * Writes {@code bundle/config.json} for the image {@code config} whose rootfs is {@code bundle/rootfs}.
     *
     * @throws IOException if the image has no command or its user cannot be resolved
     */
    public static void write(Path bundle, ImageConfig config) throws IOException {
        Path rootfs = bundle.resolve(ROOTFS);
        List<String> args = new ArrayList<>(config.entrypoint());
        args.addAll(config.cmd());
        if (args.isEmpty()) {
            throw new IOException("could not write the runtime bundle: the image has neither Entrypoint nor Cmd");
        }
        List<String> env = new ArrayList<>(config.env());
        if (env.stream().noneMatch(e -> e.startsWith("PATH="))) {
            env.addFirst(DEFAULT_PATH);
        }
        User user = resolveUser(rootfs, config.user());
        var json = OciImage.JSON;
        ObjectNode root = json.createObjectNode();
        root.put("ociVersion", "1.0.2");
        ObjectNode process = root.putObject("process");
        process.put("terminal", false);
        ObjectNode u = process.putObject("user");
        u.put("uid", user.uid());
        u.put("gid", user.gid());
        if (!user.additionalGids().isEmpty()) {
            ArrayNode extra = u.putArray("additionalGids");
            user.additionalGids().forEach(extra::add);
        }
        strings(process.putArray("args"), args);
        strings(process.putArray("env"), env);
        process.put("cwd", config.workingDir().isEmpty() ? "/" : config.workingDir());
        ObjectNode caps = process.putObject("capabilities");
        for (String set : List.of("bounding", "effective", "inheritable", "permitted", "ambient")) {
            strings(caps.putArray(set), CAPABILITIES);
        }
        ObjectNode rlimit = process.putArray("rlimits").addObject();
        rlimit.put("type", "RLIMIT_NOFILE");
        rlimit.put("hard", 1048576);
        rlimit.put("soft", 1048576);
        process.put("noNewPrivileges", false);
        ObjectNode r = root.putObject("root");
        r.put("path", ROOTFS);
        r.put("readonly", false);
        root.put("hostname", "drafterguest");
        ArrayNode mounts = root.putArray("mounts");
        mount(mounts, "/proc", "proc", "proc", "nosuid", "noexec", "nodev");
        mount(mounts, "/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k");
        mount(mounts, "/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620");
        mount(mounts, "/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k");
        mount(mounts, "/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev");
        mount(mounts, "/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro");
        mount(mounts, "/tmp", "tmpfs", "tmpfs", "nosuid", "nodev", "mode=1777");
        for (String f : List.of("/etc/resolv.conf", "/etc/hosts", "/etc/hostname")) {
            mount(mounts, f, "bind", f, "rbind", "ro");
        }
        ObjectNode annotations = root.putObject("annotations");
        config.labels().forEach(annotations::put);
        annotations.put("org.opencontainers.image.os", config.platform().os());
        annotations.put(
                "org.opencontainers.image.architecture", config.platform().architecture());
        ObjectNode linux = root.putObject("linux");
        ArrayNode ns = linux.putArray("namespaces");
        for (String t : List.of("pid", "ipc", "uts", "mount")) {
            ns.addObject().put("type", t);
        }
        strings(
                linux.putArray("maskedPaths"),
                List.of(
                        "/proc/acpi",
                        "/proc/kcore",
                        "/proc/keys",
                        "/proc/latency_stats",
                        "/proc/timer_list",
                        "/proc/sched_debug",
                        "/sys/firmware"));
        strings(
                linux.putArray("readonlyPaths"),
                List.of("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"));
        Files.writeString(
                bundle.resolve("config.json"),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
    }

    private static void strings(ArrayNode array, List<String> values) {
        values.forEach(array::add);
    }

    private static void mount(ArrayNode mounts, String destination, String type, String source, String... options) {
        ObjectNode m = mounts.addObject();
        m.put("destination", destination);
        m.put("type", type);
        m.put("source", source);
        strings(m.putArray("options"), List.of(options));
    }

    /** Resolves {@code uid}, {@code uid:gid}, {@code name} or {@code name:group} against the rootfs' files. */
    static User resolveUser(Path rootfs, String spec) throws IOException {
        if (spec.isEmpty()) {
            return new User(0, 0, List.of());
        }
        String userPart = spec.contains(":") ? spec.substring(0, spec.indexOf(':')) : spec;
        String groupPart = spec.contains(":") ? spec.substring(spec.indexOf(':') + 1) : null;
        List<String[]> passwd = table(rootfs, "etc/passwd", spec);
        List<String[]> group = table(rootfs, "etc/group", spec);
        int uid;
        int gid = -1;
        String userName = null;
        if (userPart.matches("\\d+")) {
            uid = Integer.parseInt(userPart);
            for (String[] p : passwd) {
                if (p.length > 3 && p[2].equals(userPart)) {
                    gid = Integer.parseInt(p[3]);
                    userName = p[0];
                    break;
                }
            }
        } else {
            String[] p = passwd.stream()
                    .filter(x -> x.length > 3 && x[0].equals(userPart))
                    .findFirst()
                    .orElseThrow(() -> new IOException(
                            "could not resolve image user '" + spec + "': no user '" + userPart + "' in /etc/passwd"));
            uid = Integer.parseInt(p[2]);
            gid = Integer.parseInt(p[3]);
            userName = userPart;
        }
        if (groupPart != null) {
            if (groupPart.matches("\\d+")) {
                gid = Integer.parseInt(groupPart);
            } else {
                gid = group.stream()
                        .filter(x -> x.length > 2 && x[0].equals(groupPart))
                        .map(x -> Integer.parseInt(x[2]))
                        .findFirst()
                        .orElseThrow(() -> new IOException("could not resolve image user '" + spec + "': no group '"
                                + groupPart + "' in /etc/group"));
            }
        }
        if (gid < 0) {
            gid = uid == 0 ? 0 : uid;
        }
        List<Integer> extra = new ArrayList<>();
        if (userName != null && groupPart == null) {
            for (String[] g : group) {
                if (g.length > 3 && List.of(g[3].split(",")).contains(userName)) {
                    int id = Integer.parseInt(g[2]);
                    if (id != gid) {
                        extra.add(id);
                    }
                }
            }
        }
        return new User(uid, gid, extra);
    }

    private static List<String[]> table(Path rootfs, String name, String spec) throws IOException {
        Path p;
        try {
            p = SecurePath.resolve(rootfs, name, true);
        } catch (IOException e) {
            return List.of();
        }
        if (!p.startsWith(rootfs) || !Files.isRegularFile(p)) {
            return List.of();
        }
        long size = Files.size(p);
        if (size > MAX_TABLE_BYTES) {
            throw new IOException("could not resolve image user '" + spec + "': /" + name + " of the image has " + size
                    + " bytes, more than the limit of " + (MAX_TABLE_BYTES >> 20) + " MiB");
        }
        List<String[]> rows = new ArrayList<>();
        for (String line : Files.readAllLines(p, StandardCharsets.UTF_8)) {
            if (!line.isBlank() && !line.startsWith("#")) {
                rows.add(line.split(":", -1));
            }
        }
        return rows;
    }
}
