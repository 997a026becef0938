package io.drafter.vm;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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

    /** The largest JSON document read; a package's config is a few hundred bytes. */
    public static final int MAX_JSON_BYTES = 64 * 1024;

    // Numbers must be what they claim: no 1.9 read as 1 vCPU. (A missing or null number reads as 0, which the
    // bounds in validate() refuse, naming the field.)
    private static final ObjectMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
            .build();

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

    /**
     * Reads a config from {@code file}, ignoring zero padding after the JSON document, and checks every field (see
     * {@link #validate()}): a package, or a migration's copy of it, is not trusted.
     *
     * @throws VmException one line naming the file and the field, e.g. {@code could not read config.json at /x: mac
     *     "02:00:00:00:00:01,romfile=/etc/shadow" is not six hex octets (like 02:0e:d9:fd:68:3d)}
     */
    public static SnapshotConfig read(Path file) throws VmException {
        String step = "could not read config.json at " + file + ": ";
        byte[] bytes;
        try (InputStream in = Files.newInputStream(file)) {
            // Only the document counts, not the padding: read one byte more than the limit, never the whole file.
            bytes = in.readNBytes(MAX_JSON_BYTES + 1);
        } catch (IOException e) {
            throw new VmException(step + e);
        }
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        if (end > MAX_JSON_BYTES) {
            throw new VmException(step + "the JSON document is larger than " + MAX_JSON_BYTES / 1024 + " KiB");
        }
        SnapshotConfig c;
        try {
            c = JSON.readValue(new String(bytes, 0, end, StandardCharsets.UTF_8), SnapshotConfig.class);
        } catch (JsonProcessingException e) {
            // Jackson's own text, without the location excerpt it appends (which may hold the whole value).
            throw new VmException(step + "not valid JSON: "
                    + VmValues.quote(String.valueOf(e.getOriginalMessage()), 160)
                            .replaceAll("^\"|\"$", ""));
        }
        if (c == null) {
            throw new VmException(step + "the document is empty or null");
        }
        try {
            return c.validate();
        } catch (IllegalArgumentException e) {
            throw new VmException(step + e.getMessage());
        }
    }

    /**
     * Checks every field against {@link VmValues}: those that reach QEMU's command line or a path (machine, boot
     * arguments, drives, tap interface, MAC, accelerator, memory and vCPUs) and those only recorded (agent channel,
     * CPU template, QEMU version).
     *
     * @return this config
     * @throws IllegalArgumentException naming the first field that is not allowed
     */
    public SnapshotConfig validate() {
        if (version != VERSION) {
            throw new IllegalArgumentException("version " + version + " is not supported (expected " + VERSION
                    + "; a Firecracker package's config.json cannot be resumed by QEMU)");
        }
        if (agentVSockPort < 0) {
            throw new IllegalArgumentException("agentVSockPort " + agentVSockPort + " is negative");
        }
        if (!AGENT_CHANNEL.equals(agentChannel)) {
            throw new IllegalArgumentException(
                    "agentChannel " + VmValues.quote(agentChannel) + " is not " + AGENT_CHANNEL);
        }
        VmValues.memorySizeMiB("memorySizeMiB", memorySizeMiB);
        VmValues.vcpus("vcpus", vcpus);
        VmValues.accel("accel", accel);
        VmValues.machine("machine", machine);
        VmValues.bootArgs("bootArgs", bootArgs);
        VmValues.driveNames("drives", drives);
        if (tapInterface != null) {
            VmValues.tapInterface("tapInterface", tapInterface);
        }
        if (mac != null) {
            VmValues.mac("mac", mac);
        }
        VmValues.cpuTemplate("cpuTemplate", cpuTemplate);
        VmValues.versionString("qemuVersion", qemuVersion);
        return this;
    }
}
