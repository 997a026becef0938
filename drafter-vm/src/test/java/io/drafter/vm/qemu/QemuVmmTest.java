package io.drafter.vm.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import io.drafter.vm.Console;
import io.drafter.vm.Drive;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.agent.AgentCall;
import io.drafter.vm.testing.TestGuest;
import io.drafter.vm.testing.VmConfigBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Boots the real DrafterOS guest under QEMU (TCG here), snapshots it and resumes it in new processes. */
class QemuVmmTest {
    private static final Pattern COUNTER = Pattern.compile("^counter (\\d+)$", Pattern.MULTILINE);
    private static final Duration READY = Duration.ofSeconds(60);

    private final QemuVmm vmm = new QemuVmm();

    @TempDir
    Path tmp;

    /** Highest counter value on the console, or -1. */
    static int lastCounter(String console) {
        Matcher m = COUNTER.matcher(console);
        int last = -1;
        while (m.find()) {
            last = Math.max(last, Integer.parseInt(m.group(1)));
        }
        return last;
    }

    static int firstCounter(String console) {
        Matcher m = COUNTER.matcher(console);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    static String console(VmConfig c) throws IOException {
        return Files.exists(c.consoleLog())
                ? Files.readString(c.consoleLog(), java.nio.charset.StandardCharsets.ISO_8859_1)
                : "";
    }

    static void awaitCounter(VmConfig c, int atLeast, Duration timeout) throws Exception {
        Await.value(
                timeout,
                "the guest's counter to reach " + atLeast,
                () -> lastCounter(console(c)) >= atLeast ? atLeast : null,
                () -> "console:\n" + console(c));
    }

    /** A config equal to {@code c} but with every file under {@code dir} (the "other host"). */
    static VmConfig movedTo(VmConfig c, Path dir) throws IOException {
        Files.createDirectories(dir);
        List<Drive> drives = new java.util.ArrayList<>();
        for (Drive d : c.drives()) {
            Path p = dir.resolve(d.path().getFileName());
            Files.copy(d.path(), p);
            drives.add(new Drive(d.name(), p, d.readOnly()));
        }
        Path mem = dir.resolve("memory.bin");
        Files.copy(c.memoryFile(), mem);
        return VmConfigBuilder.from(c)
                .drives(drives)
                .memoryFile(mem)
                .runDir(dir.resolve("run"))
                .consoleLog(dir.resolve("console.log"))
                .console(Console.LOG)
                .build();
    }

    @Test
    @Timeout(180)
    void bootSnapshotAndResumeFromCopyContinuesTheWorkload() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("host-a"));
        VmConfig cfg = TestGuest.config(src, 128, true, "");
        Path state = src.resolve("state.bin");
        VmConfig effective;
        int before;
        try (VmInstance vm = vmm.boot(cfg)) {
            vm.awaitReady(READY);
            var confinement = TestGuest.confinement(vm.pid());
            assertEquals("2", confinement.get("Seccomp"), "QEMU runs in its seccomp sandbox: " + confinement);
            assertEquals("1", confinement.get("NoNewPrivs"), confinement.toString());
            effective = vm.config();
            awaitCounter(effective, 3, Duration.ofSeconds(30));
            VmInstance.SnapshotResult r = vm.snapshot(state, Duration.ofSeconds(30));
            assertTrue(
                    r.stateBytes() > 1000 && r.stateBytes() < 4 * 1024 * 1024, "state holds no RAM: " + r.stateBytes());
            Thread.sleep(300); // the console file catches up with what the guest printed before the snapshot
            before = lastCounter(console(effective));
            String c = console(effective);
            assertTrue(c.indexOf("drafter-agent: BeforeSuspend") < c.indexOf("drafter-hook: before-suspend"), c);
        }
        assertEquals(List.of(), TestGuest.qemuUnder(src));

        Path wrong = Files.createDirectories(tmp.resolve("wrong-size"));
        Path bigMemory = wrong.resolve("memory.bin");
        try (var f = new java.io.RandomAccessFile(bigMemory.toFile(), "rw")) {
            f.setLength(256L * 1024 * 1024);
        }
        VmConfig wrongSize = VmConfigBuilder.from(effective)
                .memoryFile(bigMemory)
                .memorySizeMiB(256)
                .vcpus(1)
                .network(null)
                .runDir(wrong.resolve("run"))
                .consoleLog(wrong.resolve("console.log"))
                .console(io.drafter.vm.Console.LOG)
                .build();
        VmException e = assertThrows(VmException.class, () -> vmm.resume(wrongSize, state));
        assertTrue(e.getMessage().startsWith("could not load device state from " + state), e.getMessage());
        assertEquals(List.of(), TestGuest.qemuUnder(wrong));

        // A stream cut short: QEMU sees its end at once (the writer shuts its side) and fails; nothing waits for more.
        Path cut = Files.createDirectories(tmp.resolve("cut")).resolve("state.bin");
        byte[] whole = Files.readAllBytes(state);
        Files.write(cut, java.util.Arrays.copyOf(whole, whole.length / 2));
        VmConfig cutShort = movedTo(effective, tmp.resolve("cut"));
        VmException cutErr = assertThrows(VmException.class, () -> vmm.resume(cutShort, cut));
        assertTrue(cutErr.getMessage().startsWith("could not load device state from " + cut), cutErr.getMessage());
        assertEquals(List.of(), TestGuest.qemuUnder(tmp.resolve("cut")));

        VmConfig moved = movedTo(effective, tmp.resolve("host-b"));
        try (VmInstance vm = vmm.resume(moved, copy(state, tmp.resolve("host-b/state.bin")))) {
            awaitCounter(moved, before + 3, Duration.ofSeconds(30));
            String c = console(moved);
            int first = firstCounter(c);
            assertTrue(
                    first > before && first <= before + 3,
                    "workload continued from " + before + ", not restarted:\n" + c);
            assertTrue(c.contains("drafter-agent: AfterResume"), c);
            assertTrue(c.indexOf("drafter-agent: AfterResume") < c.indexOf("drafter-hook: after-resume"), c);
            assertFalse(c.contains("BUG:"), c);
            ((QemuInstance) vm).agentCall(new AgentCall.Ping(), Duration.ofSeconds(10));
        }
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
    }

    static Path copy(Path from, Path to) throws IOException {
        return Files.copy(from, to);
    }
}
