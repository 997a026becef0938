package io.drafter.vm.qemu;

import io.drafter.linux.ExitActions;
import io.drafter.linux.HelperCommand;
import io.drafter.linux.HelperCommandException;
import io.drafter.linux.TiedProcesses;
import io.drafter.vm.Accel;
import io.drafter.vm.Drive;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.Vmm;
import io.drafter.vm.VmmFiles;
import io.drafter.vm.VmmUser;
import io.drafter.vm.qmp.QmpCommand;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The QEMU driver: {@code qemu-system-x86_64} with guest RAM in a shared memory file, controlled over
 * QMP, snapshotted with {@code x-ignore-shared} (RAM stays in the memory file, the state file holds
 * only device and CPU state) and resumed with {@code -incoming defer} + {@code migrate-incoming}.
 *
 * <p>QEMU runs in its seccomp sandbox, and with a {@link VmmUser} ({@link #runningAs}) as that user once it has opened
 * its devices; the files it opens later (disks, state files) are checked for that user before it starts.
 *
 * <p>Threading: stateless apart from its settings; {@link #boot} and {@link #resume} may run
 * concurrently for different run directories.
 */
public final class QemuVmm implements Vmm {
    private static final System.Logger LOG = System.getLogger(QemuVmm.class.getName());
    /** How long {@code qemu-system-x86_64 --version} may take. */
    private static final Duration VERSION_TIMEOUT = Duration.ofSeconds(30);
    /** Magic at the start of a QEMU migration stream ("QEVM"). */
    static final byte[] STATE_MAGIC = {'Q', 'E', 'V', 'M'};

    /**
     * QEMU processes started and not yet ended. Each is tied to this JVM ({@link TiedProcesses}: it gets SIGKILL when
     * the JVM dies, however it dies); only where that is not available are they killed by an exit action, after the
     * application's own (a VM being suspended into its devices must not lose its QEMU midway).
     */
    private static final java.util.Set<Process> LIVE = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        if (!TiedProcesses.tied()) {
            ExitActions.register(
                    ExitActions.Stage.PROCESSES, "kill QEMU", () -> LIVE.forEach(Process::destroyForcibly));
        }
    }

    private final String qemuBinary;
    private final Duration startTimeout;
    private final Duration resumeTimeout;
    private final VmmUser user;

    /** A driver for {@code qemu-system-x86_64} from PATH with a 10 s start and 60 s resume timeout. */
    public QemuVmm() {
        this("qemu-system-x86_64", Duration.ofSeconds(10), Duration.ofSeconds(60));
    }

    /** A driver with the given binary and timeouts (start: QMP up; resume: state loaded + AfterResume). */
    public QemuVmm(String qemuBinary, Duration startTimeout, Duration resumeTimeout) {
        this(qemuBinary, startTimeout, resumeTimeout, null);
    }

    private QemuVmm(String qemuBinary, Duration startTimeout, Duration resumeTimeout, VmmUser user) {
        this.qemuBinary = qemuBinary;
        this.startTimeout = startTimeout;
        this.resumeTimeout = resumeTimeout;
        this.user = user;
    }

    /** This driver with QEMU dropping to {@code user} after opening its devices; {@code null} keeps it root. */
    public QemuVmm runningAs(VmmUser user) {
        return new QemuVmm(qemuBinary, startTimeout, resumeTimeout, user);
    }

    @Override
    public Optional<VmmUser> user() {
        return Optional.ofNullable(user);
    }

    /** The QEMU version string ({@code qemu-system-x86_64 --version}, first line), or empty when absent. */
    public String version() {
        try {
            HelperCommand.Result r = HelperCommand.of(qemuBinary, "--version")
                    .timeout(VERSION_TIMEOUT)
                    .run();
            return (r.stdout() + r.stderr()).lines().findFirst().orElse("");
        } catch (HelperCommandException e) {
            return "";
        }
    }

    @Override
    public QemuInstance boot(VmConfig config) throws VmException {
        checkInputs(config, "boot");
        try {
            if (!Files.exists(config.memoryFile())) {
                // Guest RAM: 0600, like every file of a VM (QEMU opens it before it drops to a user).
                try (var ch = java.nio.channels.FileChannel.open(
                        config.memoryFile(),
                        java.util.Set.of(
                                java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE),
                        java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")))) {
                    ch.truncate(0);
                    ch.write(java.nio.ByteBuffer.allocate(1), (long) config.memorySizeMiB() * 1024 * 1024 - 1);
                }
            }
        } catch (IOException e) {
            throw new VmException("could not create memory file " + config.memoryFile() + ": " + e, e);
        }
        checkMemoryFile(config, "boot");
        AcceleratorProbe.Decision d =
                AcceleratorProbe.decide(config.accel(), qemuBinary, config.kernel(), config.initrd());
        VmConfig effective = config.resolved(d.accel(), QemuCommandLine.withTscKhz(config.bootArgs()));
        return start(effective, false);
    }

    @Override
    public QemuInstance resume(VmConfig config, Path stateFile) throws VmException {
        return resume(config, stateFile, true);
    }

    /**
     * As {@link #resume(VmConfig, Path)}; with {@code awaitAfterResume=false} it returns as soon as the vCPUs run and
     * calls the agent's {@code AfterResume} on a virtual thread (a failure is logged): the workload serves again
     * without waiting for the guest's clock fix and hooks, which matters when every millisecond is downtime.
     */
    public QemuInstance resume(VmConfig config, Path stateFile, boolean awaitAfterResume) throws VmException {
        QemuInstance vm = prepare(config, stateFile);
        try {
            vm.cont();
            if (awaitAfterResume) {
                vm.afterResume(resumeTimeout);
            } else {
                long contNs = System.nanoTime();
                Thread.ofVirtual().name("after-resume-" + vm.pid()).start(() -> afterResumeInBackground(vm, contNs));
            }
            return vm;
        } catch (VmException | RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /**
     * Starts QEMU with the device state loaded from {@code stateFile} and the vCPUs stopped: nothing of the guest runs
     * until {@link QemuInstance#cont()}. The same as {@link #startDeferred} then {@link QemuInstance#loadState}.
     */
    @Override
    public QemuInstance prepare(VmConfig config, Path stateFile) throws VmException {
        checkInputs(config, "resume");
        checkMemoryFile(config, "resume");
        checkStateFile(stateFile);
        checkUserCanOpen(stateFile, false, "resume", "state file", user);
        QemuInstance vm = startDeferred(config);
        try {
            vm.loadState(stateFile);
            return vm;
        } catch (VmException | RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /**
     * Starts QEMU for a resume whose device state is not there yet ({@code -incoming defer}, {@code x-ignore-shared}):
     * the process, its devices, the kernel and the memory file's mapping, all ready for {@link
     * QemuInstance#loadState}, and QEMU's incoming migration already waiting on a socket for the state's bytes, so that
     * the load needs no command. QEMU reads the kernel (and initrd) now and opens the drives and the memory file without
     * reading them; guest RAM is not touched until the state is loaded and the vCPUs run. A peer taking a VM over
     * starts it while the source still runs, so that only the state load remains after the hand-over.
     */
    @Override
    public QemuInstance startDeferred(VmConfig config) throws VmException {
        checkInputs(config, "resume");
        checkMemoryFile(config, "resume");
        if (config.accel() == Accel.AUTO) {
            throw new VmException("could not resume: the snapshot's accelerator must be given (kvm or tcg)");
        }
        long t0 = System.nanoTime();
        QemuInstance vm = start(config, true);
        try {
            vm.qmp()
                    .execute(
                            new QmpCommand.MigrateSetCapabilities(QemuInstance.MIGRATION_CAPABILITIES),
                            Duration.ofSeconds(10));
            vm.listenForState();
            vm.started(t0, Duration.ofNanos(System.nanoTime() - t0), resumeTimeout);
            return vm;
        } catch (VmException | RuntimeException e) {
            vm.close();
            throw e;
        }
    }

    /**
     * Starts QEMU for {@code config} with {@code -incoming defer} and returns it waiting for a migration stream
     * (the caller sends {@code migrate-incoming}, e.g. {@code tcp:…} for QEMU's own live migration).
     */
    public QemuInstance startIncoming(VmConfig config) throws VmException {
        checkInputs(config, "start for an incoming migration");
        if (config.accel() == Accel.AUTO) {
            throw new VmException("could not start for an incoming migration: the accelerator must be given");
        }
        return start(config, true);
    }

    /** The agent's {@code AfterResume} off the caller's path: logged, never thrown. */
    private void afterResumeInBackground(QemuInstance vm, long contNs) {
        try {
            vm.afterResume(resumeTimeout);
            LOG.log(
                    System.Logger.Level.INFO,
                    "AfterResume of pid {0} done {1} ms after cont",
                    vm.pid(),
                    (System.nanoTime() - contNs) / 1_000_000);
        } catch (VmException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "AfterResume of pid " + vm.pid() + " failed: " + e.getMessage());
        }
    }

    private QemuInstance start(VmConfig c, boolean incoming) throws VmException {
        Path qemuLog = c.runDir().resolve("qemu.log");
        try {
            Files.createDirectories(c.runDir());
            VmmFiles.restrictDir(c.runDir(), user);
            Path sockets = QemuCommandLine.socketDir(c);
            if (!sockets.equals(c.runDir().toAbsolutePath())) {
                Files.createDirectories(sockets.getParent());
                Files.createDirectories(sockets);
                VmmFiles.restrictDir(sockets, user);
            }
            Files.deleteIfExists(sockets.resolve(QemuCommandLine.QMP_SOCKET));
            Files.deleteIfExists(sockets.resolve(QemuCommandLine.AGENT_SOCKET));
            if (incoming) {
                // QEMU listens for its state there after it dropped privileges: a directory it owns, nobody else may
                // enter.
                Path stateDir = sockets.resolve(QemuCommandLine.STATE_SOCKET_DIR);
                Files.createDirectories(stateDir);
                Files.deleteIfExists(sockets.resolve(QemuCommandLine.STATE_SOCKET));
                if (user != null) {
                    Files.setAttribute(stateDir, "unix:uid", user.uid(), LinkOption.NOFOLLOW_LINKS);
                    Files.setAttribute(stateDir, "unix:gid", user.gid(), LinkOption.NOFOLLOW_LINKS);
                }
                Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwx------"));
            }
            // Created here, 0600: QEMU and the redirect would create them world-readable (the guest's console).
            VmmFiles.createPrivate(c.consoleLog(), null);
            VmmFiles.createPrivate(qemuLog, null);
        } catch (IOException e) {
            throw new VmException("could not prepare run directory " + c.runDir() + ": " + e, e);
        }
        List<String> args = QemuCommandLine.build(qemuBinary, c, c.accel(), incoming, user);
        ProcessBuilder pb = new ProcessBuilder(args).redirectErrorStream(true);
        switch (c.console()) {
            case LOG ->
                pb.redirectInput(ProcessBuilder.Redirect.from(
                                Path.of("/dev/null").toFile()))
                        .redirectOutput(qemuLog.toFile());
            case OUTPUT ->
                pb.redirectInput(ProcessBuilder.Redirect.from(
                                Path.of("/dev/null").toFile()))
                        .redirectOutput(ProcessBuilder.Redirect.INHERIT)
                        .redirectErrorStream(false)
                        .redirectError(qemuLog.toFile());
            case TERMINAL ->
                pb.redirectInput(ProcessBuilder.Redirect.INHERIT)
                        .redirectOutput(ProcessBuilder.Redirect.INHERIT)
                        .redirectErrorStream(false)
                        .redirectError(qemuLog.toFile());
        }
        Process p;
        try {
            p = TiedProcesses.start(pb);
        } catch (IOException e) {
            throw new VmException("could not start " + args.getFirst() + ": " + e.getMessage(), e);
        }
        LIVE.add(p);
        p.onExit().thenRun(() -> LIVE.remove(p));
        LOG.log(
                System.Logger.Level.INFO,
                "started QEMU pid {0} ({1}, {2} MiB, accel {3}{4}, sandboxed{5})",
                p.pid(),
                c.machine(),
                c.memorySizeMiB(),
                c.accel().qemuName(),
                incoming ? ", incoming" : "",
                user == null ? "" : ", as " + user);
        LOG.log(System.Logger.Level.DEBUG, "QEMU command: {0}", String.join(" ", args));
        QemuInstance vm = new QemuInstance(c, c.accel(), p, qemuLog, user);
        try {
            vm.connect(startTimeout);
        } catch (VmException | RuntimeException e) {
            try {
                p.waitFor(300, java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            String diag = vm.diagnostics();
            vm.close();
            throw new VmException(
                    "could not start QEMU for " + (incoming ? "resume" : "boot") + ": " + e.getMessage() + diag, e);
        }
        return vm;
    }

    private void checkInputs(VmConfig c, String step) throws VmException {
        requireFile(c.kernel(), step, "kernel");
        if (c.initrd() != null) {
            requireFile(c.initrd(), step, "initrd");
        }
        for (Drive d : c.drives()) {
            requireFile(d.path(), step, "drive " + d.name());
            // QEMU reopens its disks when it pauses for a snapshot (bdrv_inactivate_all), after it dropped privileges.
            checkUserCanOpen(d.path(), !d.readOnly(), step, "drive " + d.name(), user);
        }
        if (user != null) {
            try {
                Path parent = c.runDir().toAbsolutePath().getParent();
                Path existing = parent;
                while (existing != null && !Files.exists(existing)) {
                    existing = existing.getParent();
                }
                String why = existing == null ? null : VmmFiles.unsearchable(existing, user);
                if (why != null) {
                    throw new VmException("could not " + step + " with QEMU as " + user + ": run directory "
                            + c.runDir() + ": " + why);
                }
            } catch (IOException e) {
                throw new VmException("could not " + step + ": cannot check run directory " + c.runDir() + ": " + e, e);
            }
        }
    }

    /** Fails naming {@code what} when QEMU, once dropped to its user, could not open {@code file}. */
    static void checkUserCanOpen(Path file, boolean write, String step, String what, VmmUser user) throws VmException {
        if (user == null) {
            return;
        }
        String why;
        try {
            why = VmmFiles.unreachable(file, user, write);
        } catch (IOException e) {
            throw new VmException("could not " + step + ": cannot check " + what + " " + file + ": " + e, e);
        }
        if (why != null) {
            throw new VmException(
                    "could not " + step + " with QEMU as " + user + ": " + what + " " + file + ": " + why);
        }
    }

    private static void requireFile(Path p, String step, String what) throws VmException {
        if (!Files.isRegularFile(p)) {
            throw new VmException("could not " + step + ": " + what + " " + p + " does not exist or is not a file");
        }
        try {
            if (Files.size(p) == 0) {
                throw new VmException("could not " + step + ": " + what + " " + p + " is empty");
            }
        } catch (IOException e) {
            throw new VmException("could not " + step + ": cannot stat " + what + " " + p + ": " + e, e);
        }
    }

    private static void checkMemoryFile(VmConfig c, String step) throws VmException {
        long want = (long) c.memorySizeMiB() * 1024 * 1024;
        long have;
        try {
            have = Files.size(c.memoryFile());
        } catch (IOException e) {
            throw new VmException("could not " + step + ": memory file " + c.memoryFile() + " is missing: " + e, e);
        }
        if (have < want) {
            throw new VmException("could not " + step + ": memory file " + c.memoryFile() + " has " + have
                    + " bytes, the VM has " + c.memorySizeMiB() + " MiB (" + want + " bytes): truncated?");
        }
    }

    static void checkStateFile(Path state) throws VmException {
        if (!Files.isRegularFile(state)) {
            throw new VmException("could not resume: state file " + state + " does not exist");
        }
        byte[] head = new byte[4];
        try (InputStream in = Files.newInputStream(state)) {
            int n = in.readNBytes(head, 0, 4);
            if (n < 4 || !Arrays.equals(head, STATE_MAGIC)) {
                throw new VmException(
                        "could not resume: state file " + state + " is not a QEMU state stream (no QEVM magic)");
            }
        } catch (IOException e) {
            if (e instanceof VmException ve) {
                throw ve;
            }
            throw new VmException("could not read state file " + state + ": " + e, e);
        }
    }
}
