package io.drafter.vm.testing;

import io.drafter.vm.Accel;
import io.drafter.vm.Console;
import io.drafter.vm.Drive;
import io.drafter.vm.Network;
import io.drafter.vm.VmConfig;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds a {@link VmConfig} by name instead of by position: tests say which values matter and take the rest from
 * {@link VmConfig#of}'s defaults (one vCPU, {@link VmConfig#DEFAULT_BOOT_ARGS}, {@code microvm}, {@link Accel#AUTO}, no
 * network, {@code console.log} in the run directory, {@link Console#LOG}) or from another config ({@link #from}).
 * The record itself checks the values when {@link #build()} makes it.
 */
public final class VmConfigBuilder {
    private Path kernel;
    private Path initrd;
    private List<Drive> drives = List.of();
    private Path memoryFile;
    private int memorySizeMiB = 128;
    private int vcpus = 1;
    private String bootArgs = VmConfig.DEFAULT_BOOT_ARGS;
    private String machine = "microvm";
    private Accel accel = Accel.AUTO;
    private Network network;
    private Path runDir;
    private Path consoleLog;
    private Console console = Console.LOG;

    private VmConfigBuilder() {}

    /** A builder with {@link VmConfig#of}'s defaults. */
    public static VmConfigBuilder vmConfig() {
        return new VmConfigBuilder();
    }

    /** A builder holding every value of {@code c}. */
    public static VmConfigBuilder from(VmConfig c) {
        VmConfigBuilder b = new VmConfigBuilder();
        b.kernel = c.kernel();
        b.initrd = c.initrd();
        b.drives = c.drives();
        b.memoryFile = c.memoryFile();
        b.memorySizeMiB = c.memorySizeMiB();
        b.vcpus = c.vcpus();
        b.bootArgs = c.bootArgs();
        b.machine = c.machine();
        b.accel = c.accel();
        b.network = c.network();
        b.runDir = c.runDir();
        b.consoleLog = c.consoleLog();
        b.console = c.console();
        return b;
    }

    public VmConfigBuilder kernel(Path kernel) {
        this.kernel = kernel;
        return this;
    }

    public VmConfigBuilder initrd(Path initrd) {
        this.initrd = initrd;
        return this;
    }

    public VmConfigBuilder drives(List<Drive> drives) {
        this.drives = drives;
        return this;
    }

    public VmConfigBuilder memoryFile(Path memoryFile) {
        this.memoryFile = memoryFile;
        return this;
    }

    public VmConfigBuilder memorySizeMiB(int memorySizeMiB) {
        this.memorySizeMiB = memorySizeMiB;
        return this;
    }

    public VmConfigBuilder vcpus(int vcpus) {
        this.vcpus = vcpus;
        return this;
    }

    public VmConfigBuilder bootArgs(String bootArgs) {
        this.bootArgs = bootArgs;
        return this;
    }

    public VmConfigBuilder machine(String machine) {
        this.machine = machine;
        return this;
    }

    public VmConfigBuilder accel(Accel accel) {
        this.accel = accel;
        return this;
    }

    public VmConfigBuilder network(Network network) {
        this.network = network;
        return this;
    }

    /** The run directory; unless {@link #consoleLog} says otherwise, the console log is {@code console.log} in it. */
    public VmConfigBuilder runDir(Path runDir) {
        this.runDir = runDir;
        return this;
    }

    public VmConfigBuilder consoleLog(Path consoleLog) {
        this.consoleLog = consoleLog;
        return this;
    }

    public VmConfigBuilder console(Console console) {
        this.console = console;
        return this;
    }

    public VmConfig build() {
        Path log = consoleLog != null || runDir == null ? consoleLog : runDir.resolve("console.log");
        return new VmConfig(
                kernel,
                initrd,
                drives,
                memoryFile,
                memorySizeMiB,
                vcpus,
                bootArgs,
                machine,
                accel,
                network,
                runDir,
                log,
                console);
    }
}
