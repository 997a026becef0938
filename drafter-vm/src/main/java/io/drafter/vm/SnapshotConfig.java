package io.drafter.vm;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The package's {@code config.json}: everything a resume needs besides the device files. A superset of
 * Drafter's (which only holds {@code agentVSockPort}); readers cut at the first NUL byte because
 * snapshot outputs are zero-padded.
 *
 * @param version format version, {@link #VERSION}
 * @param agentVSockPort Drafter's field, kept for compatibility (the agent here is virtio-serial)
 * @param agentChannel how the agent is reached: {@code virtio-serial:org.drafter.agent}
 * @param memorySizeMiB guest RAM size
 * @param vcpus number of vCPUs
 * @param accel accelerator the state was taken under ({@code kvm} or {@code tcg})
 * @param machine QEMU machine type
 * @param bootArgs kernel command line the guest booted with
 * @param hasInitrd whether the VM booted with an initramfs (device {@code initrd} or a file beside the kernel)
 * @param drives device names attached as disks, in order
 * @param tapInterface the tap the NIC was attached to, or {@code null} when the VM had none
 * @param mac the guest MAC, or {@code null}
 * @param cpuTemplate Drafter's CPU template flag, recorded but meaningless to QEMU
 * @param qemuVersion the QEMU version that wrote the state
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record SnapshotConfig(
        int version,
        int agentVSockPort,
        String agentChannel,
        int memorySizeMiB,
        int vcpus,
        String accel,
        String machine,
        String bootArgs,
        boolean hasInitrd,
        List<String> drives,
        String tapInterface,
        String mac,
        String cpuTemplate,
        String qemuVersion) {
    /** Current format version. */
    public static final int VERSION = 1;
    /** The agent channel name in the guest. */
    public static final String AGENT_CHANNEL = "virtio-serial:org.drafter.agent";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Writes this config as JSON to {@code file}. */
    public void write(Path file) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(this) + "\n");
    }

    /**
     * The VM config that resumes this snapshot with the given device files (the package's, or their
     * FUSE-exposed copies).
     *
     * @param drivePaths file of each drive named in {@link #drives()}
     * @param initrd the initramfs, required when {@link #hasInitrd()}
     * @param network the NIC, required when the snapshot had one ({@link #tapInterface()} not null)
     */
    public VmConfig toVmConfig(
            Path kernel,
            Path initrd,
            java.util.Map<String, Path> drivePaths,
            Path memory,
            Network network,
            Path runDir,
            Console console)
            throws VmException {
        if (hasInitrd && initrd == null) {
            throw new VmException("could not resume: the snapshot booted with an initrd and none was given");
        }
        if ((tapInterface != null) != (network != null)) {
            throw new VmException("could not resume: the snapshot had "
                    + (tapInterface == null ? "no NIC" : "a NIC on " + tapInterface) + ", the resume "
                    + (network == null ? "has none" : "has one"));
        }
        List<Drive> list = new java.util.ArrayList<>();
        for (String name : drives) {
            Path p = drivePaths.get(name);
            if (p == null) {
                throw new VmException("could not resume: no file for drive " + name);
            }
            list.add(new Drive(name, p, false));
        }
        Accel a = switch (accel) {
            case "kvm" -> Accel.KVM;
            case "tcg" -> Accel.TCG;
            default -> throw new VmException("could not resume: unknown accelerator '" + accel + "' in config");
        };
        return new VmConfig(
                kernel,
                hasInitrd ? initrd : null,
                list,
                memory,
                memorySizeMiB,
                vcpus,
                bootArgs,
                machine,
                a,
                network,
                runDir,
                runDir.resolve("console.log"),
                console);
    }

    /** Reads a config from {@code file}, ignoring zero padding after the JSON document. */
    public static SnapshotConfig read(Path file) throws VmException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new VmException("could not read config " + file + ": " + e);
        }
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        SnapshotConfig c;
        try {
            c = JSON.readValue(new String(Arrays.copyOf(bytes, end), StandardCharsets.UTF_8), SnapshotConfig.class);
        } catch (IOException e) {
            throw new VmException("could not parse config " + file + ": "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
        if (c.version() != VERSION) {
            throw new VmException(
                    "could not use config " + file + ": version " + c.version() + ", expected " + VERSION);
        }
        if (c.memorySizeMiB() < 16 || c.vcpus() < 1 || c.drives() == null || c.machine() == null) {
            throw new VmException("could not use config " + file + ": memorySizeMiB, vcpus, machine or drives missing");
        }
        return c;
    }
}
