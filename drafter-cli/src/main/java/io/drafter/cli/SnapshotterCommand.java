package io.drafter.cli;

import io.drafter.vm.Accel;
import io.drafter.vm.Console;
import io.drafter.vm.Network;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmValues;
import io.drafter.vm.VmmUser;
import io.drafter.vm.qemu.QemuVmm;
import io.drafter.vm.snapshot.SnapshotDevice;
import io.drafter.vm.snapshot.Snapshotter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code drafter snapshotter}: Drafter's snapshotter with its flags and {@code --devices} JSON; boots a
 * blueprint under QEMU, waits for the guest's liveness signal, calls {@code BeforeSuspend} and writes
 * the package devices. {@code --uid}/{@code --gid} run QEMU as that user; other Firecracker/jailer-only flags are
 * accepted and ignored (see docs/vm.md).
 */
@Command(
        name = "snapshotter",
        description = "Boot a blueprint and write a snapshot package (state, memory, config, kernel, disk, oci).")
public final class SnapshotterCommand implements Callable<Integer> {
    static final String DEFAULT_DEVICES = """
            [{"name":"state","output":"out/package/state.bin"},\
            {"name":"memory","output":"out/package/memory.bin"},\
            {"name":"kernel","input":"out/blueprint/vmlinux","output":"out/package/vmlinux"},\
            {"name":"disk","input":"out/blueprint/rootfs.ext4","output":"out/package/rootfs.ext4"},\
            {"name":"config","output":"out/package/config.json"},\
            {"name":"oci","input":"out/blueprint/oci.ext4","output":"out/package/oci.ext4"}]""";

    @Option(
            names = {"--devices", "-devices"},
            defaultValue = DEFAULT_DEVICES,
            description = "JSON list of {name,input,output}.")
    String devices;

    @Option(
            names = {"--netns", "-netns"},
            defaultValue = "ark0",
            description = "Network namespace holding the tap; '' for no NIC.")
    String netns;

    @Option(
            names = {"--interface", "-interface"},
            defaultValue = "tap0",
            description = "Tap device inside the namespace.")
    String tapInterface;

    @Option(
            names = {"--mac", "-mac"},
            defaultValue = Network.DEFAULT_MAC,
            description = "Guest MAC.")
    String mac;

    @Option(
            names = {"--cpu-count", "-cpu-count"},
            defaultValue = "1",
            description = "vCPUs.")
    int cpuCount;

    @Option(
            names = {"--memory-size", "-memory-size"},
            defaultValue = "1024",
            description = "Guest RAM in MiB.")
    int memorySizeMiB;

    @Option(
            names = {"--cpu-template", "-cpu-template"},
            defaultValue = "None",
            description = "Recorded only (Firecracker CPU template).")
    String cpuTemplate;

    @Option(
            names = {"--boot-args", "-boot-args"},
            defaultValue = VmConfig.DEFAULT_BOOT_ARGS,
            description = "Kernel command line.")
    String bootArgs;

    @Option(
            names = {"--resume-timeout", "-resume-timeout"},
            defaultValue = "1m",
            converter = GoDuration.class,
            description = "Longest wait for liveness and the agent.")
    Duration resumeTimeout;

    @Option(
            names = {"--chroot-base-dir", "-chroot-base-dir"},
            defaultValue = "out/vms",
            description = "Work directory base.")
    Path chrootBaseDir;

    @Option(
            names = {"--qemu-bin", "-qemu-bin"},
            defaultValue = "qemu-system-x86_64",
            description = "QEMU binary.")
    String qemuBin;

    @Option(
            names = {"--accel", "-accel"},
            defaultValue = "auto",
            description = "auto (probe), kvm or tcg.")
    String accel;

    @Option(
            names = {"--pad", "-pad"},
            defaultValue = "true",
            arity = "0..1",
            description = "Zero-pad outputs like Drafter (on unless =false).")
    boolean pad;

    // Drafter's console flags, and its Firecracker/jailer flags (--uid/--gid honoured, the others ignored).
    @Mixin
    ConsoleOptions consoleOptions;

    @Mixin
    FirecrackerCompatOptions firecrackerCompat;

    @Option(
            names = {"--liveness-vsock-port", "-liveness-vsock-port"},
            hidden = true)
    Integer livenessVsockPort;

    @Option(
            names = {"--agent-vsock-port", "-agent-vsock-port"},
            hidden = true)
    Integer agentVsockPort;

    @Option(
            names = {"--io-engine-sync", "-io-engine-sync"},
            hidden = true,
            arity = "0..1")
    Boolean ioEngineSync;

    @Override
    public Integer call() throws Exception {
        VmmUser vmmUser = firecrackerCompat.validate();
        // Every flag that reaches QEMU's command line, ip netns exec or a path, named as it was typed.
        try {
            VmValues.memorySizeMiB("--memory-size", memorySizeMiB);
            VmValues.vcpus("--cpu-count", cpuCount);
            VmValues.bootArgs("--boot-args", bootArgs);
            VmValues.cpuTemplate("--cpu-template", cpuTemplate);
            if (!netns.isEmpty()) {
                VmValues.netns("--netns", netns);
                VmValues.tapInterface("--interface", tapInterface);
                VmValues.mac("--mac", mac);
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("could not snapshot: " + e.getMessage(), e);
        }
        Accel a = switch (accel.toLowerCase(Locale.ROOT)) {
            case "auto" -> Accel.AUTO;
            case "kvm" -> Accel.KVM;
            case "tcg" -> Accel.TCG;
            default ->
                throw new IllegalArgumentException("could not use --accel " + accel + ": expected auto, kvm or tcg");
        };
        Network network = null;
        if (!netns.isEmpty()) {
            if (!Files.exists(Path.of("/var/run/netns", netns))) {
                throw new IllegalArgumentException("could not use --netns " + netns + ": /var/run/netns/" + netns
                        + " does not exist (create it with drafter nat, or pass --netns '' for no NIC)");
            }
            network = new Network(netns, tapInterface, mac);
        }
        Console console = consoleOptions.console();
        var options = new Snapshotter.Options(
                SnapshotDevice.parseList(devices),
                chrootBaseDir,
                memorySizeMiB,
                cpuCount,
                bootArgs,
                a,
                network,
                resumeTimeout,
                console,
                cpuTemplate,
                pad);
        // A signal before the outputs are written interrupts the boot or the snapshot: QEMU stops and the work
        // directory goes, no output is touched. Once the VM is saved the outputs are written to the end.
        Snapshotter.Result result;
        try (StopSignals stop = StopSignals.install("drafter snapshotter", System.err)) {
            stop.busy(() -> "stopping the VM and removing its work directory");
            Thread main = Thread.currentThread();
            var interrupter = stop.requested().thenRun(main::interrupt);
            try {
                result = new Snapshotter(new QemuVmm(qemuBin, Duration.ofSeconds(10), resumeTimeout).runningAs(vmmUser))
                        .run(options);
            } catch (VmException e) {
                if (stop.isRequested()) {
                    System.err.println("drafter snapshotter: stopped by "
                            + stop.requested().getNow("") + "; no snapshot was written");
                    return stop.abortedExitCode();
                }
                throw e;
            } finally {
                interrupter.cancel(false);
                Thread.interrupted();
            }
        }
        System.err.printf(
                "drafter: snapshot done (accel %s, boot to ready %d ms, pause to saved %d ms, state %d bytes)%n",
                result.accel().qemuName(),
                result.bootToReady().toMillis(),
                result.snapshot().pauseToSaved().toMillis(),
                result.snapshot().stateBytes());
        result.outputs().forEach((name, path) -> System.err.printf("drafter:   %-7s %s%n", name, path));
        return 0;
    }
}
