package io.drafter.vm.qemu;

import io.drafter.vm.Accel;
import io.drafter.vm.Drive;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmmUser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Builds the {@code qemu-system-x86_64} argument list for a {@link VmConfig}. Pure: the same config,
 * accelerator and incoming flag give the same arguments, which is what makes resume find the devices
 * the state file describes.
 *
 * <p>Drives use {@code cache=writeback,aio=threads}: the files may live on a FUSE mount that does not
 * support {@code O_DIRECT} ({@code cache=none}), and writes still reach the file on guest flushes.
 *
 * <p>QEMU always runs in its own seccomp sandbox ({@link #sandbox}); with a {@link VmmUser} it also drops to that user
 * once it has opened its devices ({@code -run-with user=uid:gid}).
 */
public final class QemuCommandLine {
    /** Name of the agent's virtio-serial port inside the guest. */
    public static final String AGENT_PORT = "org.drafter.agent";
    /** QMP socket file name in the run directory. */
    public static final String QMP_SOCKET = "qmp.sock";
    /** Agent socket file name in the run directory. */
    public static final String AGENT_SOCKET = "agent.sock";
    /**
     * Where a deferred QEMU listens for its device state, under the socket directory: a directory of its own that QEMU
     * may write after it dropped privileges, and the socket in it. No longer than {@link #AGENT_SOCKET}.
     */
    public static final String STATE_SOCKET_DIR = "state";
    /** The socket a deferred QEMU loads its device state from, under the socket directory. */
    public static final String STATE_SOCKET = STATE_SOCKET_DIR + "/in";

    private QemuCommandLine() {}

    /** As {@link #build(String, VmConfig, Accel, boolean, VmmUser)} for a QEMU that stays root. */
    public static List<String> build(String qemuBinary, VmConfig c, Accel accel, boolean incoming) {
        return build(qemuBinary, c, accel, incoming, null);
    }

    /**
     * The full command line: {@code nsenter --net=/var/run/netns/<netns> --} when a namespace is set, then QEMU.
     *
     * @param incoming whether to start with {@code -incoming defer} (resume)
     * @param user the user QEMU drops to after opening its devices, or {@code null} to stay root
     */
    public static List<String> build(String qemuBinary, VmConfig c, Accel accel, boolean incoming, VmmUser user) {
        if (accel == Accel.AUTO) {
            throw new IllegalArgumentException("could not build QEMU command: accelerator must be resolved");
        }
        List<String> a = new ArrayList<>();
        if (c.network() != null && c.network().netns() != null) {
            // nsenter, not `ip netns exec`: that also gives QEMU a mount namespace of its own, a copy of this one
            // with every FUSE mount in it, so another peer's devices stayed mounted there until QEMU ended (the root
            // mount here is private: an unmount does not propagate to copies).
            a.addAll(List.of("nsenter", "--net=/var/run/netns/" + c.network().netns(), "--"));
        }
        boolean microvm = c.machine().startsWith("microvm");
        String virtio = microvm ? "-device" : "-pci";
        a.add(qemuBinary);
        a.addAll(List.of("-name", "drafter", "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none"));
        a.addAll(List.of("-monitor", "none"));
        a.addAll(List.of("-sandbox", sandbox(user)));
        if (user != null) {
            a.addAll(List.of("-run-with", "user=" + user.uid() + ":" + user.gid()));
        }
        a.addAll(List.of("-machine", c.machine() + ",memory-backend=mem"));
        a.addAll(List.of("-accel", accel.qemuName()));
        a.addAll(List.of("-cpu", accel == Accel.KVM ? "host" : "max"));
        a.addAll(List.of("-smp", Integer.toString(c.vcpus())));
        a.addAll(List.of("-m", c.memorySizeMiB() + "M"));
        a.addAll(List.of(
                "-object",
                "memory-backend-file,id=mem,size=" + c.memorySizeMiB() + "M,mem-path=" + opt(c.memoryFile())
                        + ",share=on"));
        a.addAll(List.of("-kernel", c.kernel().toString()));
        if (c.initrd() != null) {
            a.addAll(List.of("-initrd", c.initrd().toString()));
        }
        a.addAll(List.of("-append", c.bootArgs()));
        for (Drive d : c.drives()) {
            a.addAll(List.of(
                    "-drive",
                    "file=" + opt(d.path()) + ",if=none,id=" + d.name() + ",format=raw,cache=writeback,aio=threads"
                            + (d.readOnly() ? ",readonly=on" : "")));
            a.addAll(List.of("-device", "virtio-blk" + virtio + ",drive=" + d.name() + ",serial=" + d.name()));
        }
        if (c.network() != null) {
            a.addAll(List.of(
                    "-netdev", "tap,id=net0,ifname=" + c.network().tapInterface() + ",script=no,downscript=no"));
            a.addAll(List.of(
                    "-device",
                    "virtio-net" + virtio + ",netdev=net0,mac=" + c.network().mac()));
        }
        Path agent = socketDir(c).resolve(AGENT_SOCKET);
        a.addAll(List.of("-device", "virtio-serial" + virtio + ",id=vser0"));
        a.addAll(List.of("-chardev", "socket,id=agent,path=" + opt(agent) + ",server=on,wait=off"));
        a.addAll(List.of("-device", "virtserialport,bus=vser0.0,chardev=agent,name=" + AGENT_PORT));
        switch (c.console()) {
            case LOG -> a.addAll(List.of("-serial", "file:" + c.consoleLog()));
            // stdio, not a file chardev on /dev/stdout: that one opens the file behind our standard output anew,
            // truncating it, and writes over what drafter printed before (stdin is /dev/null here).
            case OUTPUT, TERMINAL -> {
                a.addAll(List.of(
                        "-chardev", "stdio,id=con,signal=off,logfile=" + opt(c.consoleLog()) + ",logappend=off"));
                a.addAll(List.of("-serial", "chardev:con"));
            }
        }
        a.addAll(List.of("-qmp", "unix:" + opt(socketDir(c).resolve(QMP_SOCKET)) + ",server=on,wait=off"));
        if (incoming) {
            a.addAll(List.of("-incoming", "defer"));
        }
        return a;
    }

    /**
     * The {@code -sandbox} value: QEMU's seccomp filter with obsolete system calls, {@code fork}/{@code execve}
     * ({@code spawn}) and affinity/priority changes ({@code resourcecontrol}) denied. {@code set*id} calls are denied
     * too ({@code elevateprivileges=deny}), except when QEMU is to drop to a {@code user}: QEMU 10 installs the filter
     * before {@code -run-with} drops privileges, so {@code deny} (and {@code children}) kill it with SIGSYS at its own
     * {@code setuid}. After that drop no capability is left (QEMU itself checks that {@code setuid(0)} fails) and
     * the filter sets {@code no_new_privs}, so the kernel refuses any way back to root.
     */
    static String sandbox(VmmUser user) {
        return "on,obsolete=deny,elevateprivileges=" + (user == null ? "deny" : "allow")
                + ",spawn=deny,resourcecontrol=deny";
    }

    /** Boot arguments with {@code tsc_early_khz=<host TSC kHz>} appended when known and not set. */
    public static String withTscKhz(String bootArgs) {
        if (bootArgs.contains("tsc_early_khz=")) {
            return bootArgs;
        }
        return hostTscKhz().map(khz -> bootArgs + " tsc_early_khz=" + khz).orElse(bootArgs);
    }

    /**
     * The host's TSC frequency in kHz: {@code tsc_freq_khz} in sysfs when the kernel exports it, else
     * the first {@code cpu MHz} of /proc/cpuinfo. Passing it to the guest avoids hangs in TSC calibration
     * under CPU load.
     */
    public static Optional<Long> hostTscKhz() {
        try {
            Path sys = Path.of("/sys/devices/system/cpu/cpu0/tsc_freq_khz");
            if (Files.isReadable(sys)) {
                return Optional.of(Long.parseLong(Files.readString(sys).trim()));
            }
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("cpu MHz")) {
                    double mhz = Double.parseDouble(
                            line.substring(line.indexOf(':') + 1).trim());
                    return Optional.of(Math.round(mhz * 1000));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    /** The longest socket path that fits {@code sun_path} (108 bytes with its NUL), with room to spare. */
    static final int MAX_SOCKET_PATH_BYTES = 100;

    /**
     * Where the QMP and agent sockets of {@code c} go: its run directory, unless that path is too long for a Unix
     * socket (a deep {@code --chroot-base-dir}); then a short directory of its own under {@code /run/drafter} (or the
     * temporary directory), named after a hash of the run directory.
     */
    public static Path socketDir(VmConfig c) {
        Path dir = c.runDir().toAbsolutePath();
        if (dir.resolve(AGENT_SOCKET).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                <= MAX_SOCKET_PATH_BYTES) {
            return dir;
        }
        String id;
        try {
            byte[] h = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(dir.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            id = java.util.HexFormat.of().formatHex(h, 0, 8);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
        Path run = Path.of("/run");
        Path base = Files.isDirectory(run) && Files.isWritable(run)
                ? run.resolve("drafter")
                : Path.of(System.getProperty("java.io.tmpdir"), "drafter");
        return base.resolve("vm-" + id);
    }

    /** Escapes a path for a QEMU option value (commas are doubled). */
    static String opt(Path p) {
        return p.toString().replace(",", ",,");
    }
}
