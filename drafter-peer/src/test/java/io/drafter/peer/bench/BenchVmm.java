package io.drafter.peer.bench;

import io.drafter.vm.Accel;
import io.drafter.vm.StateSource;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.Vmm;
import io.drafter.vm.VmmUser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link Vmm} for benchmarks around a real one: it times every guest-RAM flush of the VMs it starts ({@link
 * VmInstance#flushMemory()}, which a peer calls during a migration's pre-copy) and keeps the parts of their last
 * snapshot. Given a directory ({@code plainRamDir}), it also moves guest RAM out of the memory device: each VM gets a
 * plain copy of the memory file there (on {@code /dev/shm}: tmpfs, RAM the kernel serves itself), deleted when the VM
 * is closed. A peer then runs exactly as usual (its other devices on FUSE, its forwards, its agent) except that guest RAM
 * never goes through the device: what is left to compare is the memory device's cost alone.
 *
 * <p>QEMU's {@code memory-backend-ram} cannot take the place of the file: a snapshot is saved with {@code
 * x-ignore-shared}, so its RAM is not in the state stream and a private RAM backend would resume a zeroed guest. A
 * shared file on tmpfs is the closest to anonymous memory that still loads such a snapshot.
 */
final class BenchVmm implements Vmm {
    /** One guest-RAM flush: when it started ({@link System#nanoTime()}) and how long it took. */
    record Flush(long startNanos, long nanos) {}

    private final Vmm delegate;
    private final Path plainRamDir;
    private final List<Flush> flushes = new ArrayList<>();
    private final AtomicInteger copies = new AtomicInteger();
    private volatile VmInstance.SnapshotResult lastSnapshot;
    private volatile boolean flushing = true;

    /** @param plainRamDir where guest RAM goes instead of the memory device, or {@code null} to leave it there */
    BenchVmm(Vmm delegate, Path plainRamDir) {
        this.delegate = delegate;
        this.plainRamDir = plainRamDir;
    }

    /** The flushes so far, in the order they ended. */
    List<Flush> flushes() {
        synchronized (flushes) {
            return List.copyOf(flushes);
        }
    }

    /**
     * With {@code false}, {@link VmInstance#flushMemory()} of this VMM's VMs does nothing (and is not recorded): a peer
     * without its pre-copy flusher, the only caller. A snapshot still flushes guest RAM (QEMU's instance does it itself).
     */
    void flushing(boolean on) {
        flushing = on;
    }

    /** The parts of the last snapshot one of this VMM's VMs took (a peer's suspend), or {@code null}. */
    VmInstance.SnapshotResult lastSnapshot() {
        return lastSnapshot;
    }

    @Override
    public VmInstance boot(VmConfig config) throws VmException {
        Path ram = plainRam(config);
        return wrap(delegate.boot(withMemory(config, ram)), ram);
    }

    @Override
    public VmInstance resume(VmConfig config, Path stateFile) throws VmException {
        Path ram = plainRam(config);
        return wrap(delegate.resume(withMemory(config, ram), stateFile), ram);
    }

    @Override
    public VmInstance prepare(VmConfig config, Path stateFile) throws VmException {
        Path ram = plainRam(config);
        return wrap(delegate.prepare(withMemory(config, ram), stateFile), ram);
    }

    @Override
    public VmInstance startDeferred(VmConfig config) throws VmException {
        Path ram = plainRam(config);
        return wrap(delegate.startDeferred(withMemory(config, ram)), ram);
    }

    @Override
    public Optional<VmmUser> user() {
        return delegate.user();
    }

    /** A plain copy of {@code config}'s memory file in {@link #plainRamDir}, or {@code null} without one. */
    private Path plainRam(VmConfig config) throws VmException {
        if (plainRamDir == null) {
            return null;
        }
        Path copy = plainRamDir.resolve("memory-" + copies.incrementAndGet() + ".bin");
        try {
            Files.createDirectories(plainRamDir);
            Files.copy(config.memoryFile(), copy);
            return copy;
        } catch (IOException e) {
            deleteQuietly(copy);
            throw new VmException("could not copy guest RAM to " + copy + ": " + e.getMessage(), e);
        }
    }

    private static VmConfig withMemory(VmConfig c, Path memory) {
        if (memory == null) {
            return c;
        }
        return new VmConfig(
                c.kernel(),
                c.initrd(),
                c.drives(),
                memory,
                c.memorySizeMiB(),
                c.vcpus(),
                c.bootArgs(),
                c.machine(),
                c.accel(),
                c.network(),
                c.runDir(),
                c.consoleLog(),
                c.console());
    }

    private VmInstance wrap(VmInstance vm, Path ram) {
        return new Timed(vm, ram);
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a benchmark's scratch file; the script removes the directory at the end
        }
    }

    /** The VM, its flushes timed; closing it also deletes its plain RAM file. */
    private final class Timed implements VmInstance {
        private final VmInstance vm;
        private final Path ram;

        Timed(VmInstance vm, Path ram) {
            this.vm = vm;
            this.ram = ram;
        }

        @Override
        public long pid() {
            return vm.pid();
        }

        @Override
        public Accel accel() {
            return vm.accel();
        }

        @Override
        public VmConfig config() {
            return vm.config();
        }

        @Override
        public void awaitReady(Duration timeout) throws VmException {
            vm.awaitReady(timeout);
        }

        @Override
        public SnapshotResult snapshot(Path stateFile, Duration timeout) throws VmException {
            SnapshotResult r = vm.snapshot(stateFile, timeout);
            lastSnapshot = r;
            return r;
        }

        @Override
        public void prepareSnapshot(Duration timeout) throws VmException {
            vm.prepareSnapshot(timeout);
        }

        @Override
        public void loadState(Path stateFile) throws VmException {
            vm.loadState(stateFile);
        }

        @Override
        public void loadState(StateSource state) throws VmException {
            vm.loadState(state);
        }

        @Override
        public void pause() throws VmException {
            vm.pause();
        }

        @Override
        public void cont() throws VmException {
            vm.cont();
        }

        @Override
        public void flushMemory() throws VmException {
            if (!flushing) {
                return;
            }
            long t0 = System.nanoTime();
            vm.flushMemory();
            long t1 = System.nanoTime();
            synchronized (flushes) {
                flushes.add(new Flush(t0, t1 - t0));
            }
        }

        @Override
        public void afterResume(Duration timeout) throws VmException {
            vm.afterResume(timeout);
        }

        @Override
        public String consoleTail(int lines) {
            return vm.consoleTail(lines);
        }

        @Override
        public boolean isAlive() {
            return vm.isAlive();
        }

        @Override
        public void close() {
            try {
                vm.close();
            } finally {
                if (ram != null) {
                    deleteQuietly(ram);
                }
            }
        }
    }
}
