package io.drafter.peer.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.vm.Accel;
import io.drafter.vm.StateSource;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmInstance;
import io.drafter.vm.Vmm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@link BenchVmm} over a VMM that only records what it was asked: no QEMU. */
@Timeout(30)
class BenchVmmTest {
    @TempDir
    Path dir;

    @Test
    void plainRamIsACopyOfTheMemoryFileThatTheVmGetsInsteadAndLosesWhenClosed() throws Exception {
        Path memory = dir.resolve("mount/memory");
        Files.createDirectories(memory.getParent());
        byte[] ram = new byte[3 * 4096];
        ram[5] = 7;
        ram[ram.length - 1] = 9;
        Files.write(memory, ram);
        Recording real = new Recording();
        BenchVmm vmm = new BenchVmm(real, dir.resolve("shm"));
        VmConfig config = VmConfig.of(dir.resolve("vmlinux"), null, List.of(), memory, 256, dir.resolve("run"));

        VmInstance vm = vmm.startDeferred(config);

        VmConfig given = real.configs.getFirst();
        Path plain = given.memoryFile();
        assertEquals(dir.resolve("shm"), plain.getParent());
        assertArrayEquals(ram, Files.readAllBytes(plain));
        assertEquals(config.kernel(), given.kernel());
        assertEquals(config.runDir(), given.runDir());
        assertEquals(config.memorySizeMiB(), given.memorySizeMiB());
        vm.close();
        assertFalse(Files.exists(plain));
        assertTrue(Files.exists(memory), "the memory device's file stays");
    }

    @Test
    void withoutADirectoryTheVmKeepsItsMemoryFileAndEveryFlushIsTimed() throws Exception {
        Recording real = new Recording();
        BenchVmm vmm = new BenchVmm(real, null);
        VmConfig config =
                VmConfig.of(dir.resolve("vmlinux"), null, List.of(), dir.resolve("memory"), 256, dir.resolve("run"));

        try (VmInstance vm = vmm.resume(config, dir.resolve("state"))) {
            assertSame(config, real.configs.getFirst());
            vm.flushMemory();
            vm.flushMemory();
            VmInstance.SnapshotResult s = vm.snapshot(dir.resolve("out"), Duration.ofSeconds(1));
            assertSame(s, vmm.lastSnapshot());
        }
        assertEquals(2, vmm.flushes().size());
        assertEquals(2, real.flushes);
        assertTrue(vmm.flushes().getFirst().nanos() >= 0);
    }

    @Test
    void flushesTurnedOffDoNothingAndAreNotRecorded() throws Exception {
        Recording real = new Recording();
        BenchVmm vmm = new BenchVmm(real, null);
        VmConfig config =
                VmConfig.of(dir.resolve("vmlinux"), null, List.of(), dir.resolve("memory"), 256, dir.resolve("run"));

        try (VmInstance vm = vmm.startDeferred(config)) {
            vmm.flushing(false);
            vm.flushMemory();
            vmm.flushing(true);
            vm.flushMemory();
        }
        assertEquals(1, real.flushes);
        assertEquals(1, vmm.flushes().size());
    }

    /** Starts nothing: records the configs and counts the flushes. */
    static final class Recording implements Vmm {
        final List<VmConfig> configs = new ArrayList<>();
        int flushes;

        @Override
        public VmInstance boot(VmConfig config) {
            return vm(config);
        }

        @Override
        public VmInstance resume(VmConfig config, Path stateFile) {
            return vm(config);
        }

        @Override
        public VmInstance prepare(VmConfig config, Path stateFile) {
            return vm(config);
        }

        @Override
        public VmInstance startDeferred(VmConfig config) {
            return vm(config);
        }

        private VmInstance vm(VmConfig config) {
            configs.add(config);
            return new VmInstance() {
                @Override
                public long pid() {
                    return 1;
                }

                @Override
                public Accel accel() {
                    return Accel.TCG;
                }

                @Override
                public VmConfig config() {
                    return config;
                }

                @Override
                public void awaitReady(Duration timeout) {}

                @Override
                public SnapshotResult snapshot(Path stateFile, Duration timeout) {
                    return new SnapshotResult(stateFile, 1, Duration.ZERO, Duration.ZERO, Duration.ZERO, Duration.ZERO);
                }

                @Override
                public void loadState(Path stateFile) {}

                @Override
                public void loadState(StateSource state) {}

                @Override
                public void pause() {}

                @Override
                public void cont() {}

                @Override
                public void flushMemory() {
                    flushes++;
                }

                @Override
                public void afterResume(Duration timeout) {}

                @Override
                public String consoleTail(int lines) {
                    return "";
                }

                @Override
                public boolean isAlive() {
                    return true;
                }

                @Override
                public void close() {}
            };
        }
    }
}
