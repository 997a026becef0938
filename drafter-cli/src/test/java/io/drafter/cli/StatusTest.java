package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.drafter.base.testing.Await;
import io.drafter.base.testing.Zombie;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class StatusTest {
    @TempDir
    Path dir;

    private static Map<String, Object> peerDetails(String state) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("state", state);
        r.put("netns", "ark0");
        r.put("runDir", "/srv/out/vms/qemu/1234");
        r.put("vm", ordered("state", "running", "pid", 4321, "memoryMiB", 1024));
        r.put("listeners", ordered("migration", "127.0.0.1:1337"));
        r.put("migrations", List.of(ordered("direction", "out", "peer", "10.0.0.2:4711", "phase", "dirty_rounds")));
        r.put("forwards", List.of());
        r.put("mounts", List.of("/srv/out/vms/qemu/1234/devices"));
        return r;
    }

    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void aRecordIsWrittenPrivatelyKeptCurrentAndRemovedOnClose() throws Exception {
        AtomicReference<String> state = new AtomicReference<>("running");
        Path file;
        try (StatusRecord r = StatusRecord.start(dir, "peer", () -> peerDetails(state.get()), 50)) {
            file = r.file();
            assertEquals(
                    "peer-" + ProcessHandle.current().pid() + ".json",
                    file.getFileName().toString());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
            List<Map<String, Object>> all = StatusRecord.readAll(dir);
            assertEquals(1, all.size(), all.toString());
            assertEquals("running", all.getFirst().get("state"));
            assertEquals(ProcessHandle.current().pid(), ((Number) all.getFirst().get("pid")).longValue());

            state.set("migrating out to 10.0.0.2:4711");
            Await.value(
                    Duration.ofSeconds(5),
                    "the record to say \"migrating out\"",
                    () -> Files.readString(file).contains("migrating out") ? true : null,
                    () -> Files.readString(file));
            assertTrue(Files.readString(file).contains("migrating out"), Files.readString(file));
            try (var list = Files.list(dir)) {
                assertEquals(1, list.count(), "no temporary files are left next to the record");
            }
        }
        assertFalse(Files.exists(file), "the record goes with the command");
        assertTrue(StatusRecord.readAll(dir).isEmpty());
    }

    @Test
    void recordsOfDeadOrReusedPidsAreSkipped() throws Exception {
        ObjectMapper json = new ObjectMapper();
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        json.writeValue(
                dir.resolve("peer-" + p.pid() + ".json").toFile(),
                Map.of("command", "peer", "pid", p.pid(), "started", "2026-01-01T00:00:00Z"));
        json.writeValue(
                dir.resolve("peer-" + ProcessHandle.current().pid() + ".json").toFile(),
                Map.of("command", "peer", "pid", ProcessHandle.current().pid(), "started", "2001-01-01T00:00:00Z"));
        Files.writeString(dir.resolve("garbage.json"), "{");
        assertTrue(
                StatusRecord.readAll(dir).isEmpty(), StatusRecord.readAll(dir).toString());
        assertTrue(StatusRecord.readAll(dir.resolve("missing")).isEmpty());

        try (StatusRecord live = StatusRecord.start(dir, "runner", () -> Map.of("state", "running"), 1000)) {
            assertFalse(Files.exists(dir.resolve("peer-" + p.pid() + ".json")), "a new command removes dead records");
            assertTrue(Files.exists(dir.resolve("garbage.json")), "what is not a record is left alone");
            assertEquals(1, StatusRecord.readAll(dir).size());
        }
    }

    @Test
    void theRecordOfAZombieIsSkippedAndRemoved() throws Exception {
        // ProcessHandle.isAlive counts a zombie as alive.
        try (Zombie zombie = Zombie.start()) {
            new ObjectMapper()
                    .writeValue(
                            dir.resolve("peer-" + zombie.pid() + ".json").toFile(),
                            Map.of("command", "peer", "pid", zombie.pid()));
            assertTrue(
                    StatusRecord.readAll(dir).isEmpty(),
                    StatusRecord.readAll(dir).toString());
            StatusRecord.removeStale(dir);
            assertFalse(Files.exists(dir.resolve("peer-" + zombie.pid() + ".json")), "the zombie's record is removed");
        }
    }

    private String[] status(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cli = Drafter.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    @Test
    void statusListsWhatRunsHumanReadableAndAsJson() throws Exception {
        try (StatusRecord _ = StatusRecord.start(dir, "peer", () -> peerDetails("running"), 1000)) {
            String[] r = status("status", "--dir", dir.toString());
            assertEquals("0", r[0], r[2]);
            String pid = Long.toString(ProcessHandle.current().pid());
            assertTrue(r[1].startsWith("peer  pid " + pid + "  running  since "), r[1]);
            assertTrue(r[1].contains("netns      ark0"), r[1]);
            assertTrue(r[1].contains("vm         state running, pid 4321, memoryMiB 1024"), r[1]);
            assertTrue(r[1].contains("listeners  migration 127.0.0.1:1337"), r[1]);
            assertTrue(r[1].contains("migrations direction out, peer 10.0.0.2:4711, phase dirty_rounds"), r[1]);
            assertTrue(r[1].contains("mounts     /srv/out/vms/qemu/1234/devices"), r[1]);
            assertFalse(r[1].contains("forwards"), "empty fields are left out: " + r[1]);

            String[] j = status("status", "-json", "-dir", dir.toString());
            assertEquals("0", j[0], j[2]);
            List<?> records = new ObjectMapper().readValue(j[1], List.class);
            assertEquals(1, records.size(), j[1]);
            Map<?, ?> rec = (Map<?, ?>) records.getFirst();
            assertEquals("peer", rec.get("command"));
            assertEquals("ark0", rec.get("netns"));
        }
        String[] none = status("status", "--dir", dir.toString());
        assertEquals("0", none[0]);
        assertTrue(none[1].startsWith("no drafter command runs on this host"), none[1]);
        String[] empty = status("status", "--json", "--dir", dir.toString());
        assertEquals("[ ]", empty[1].strip());
    }

    @Test
    void aFileGivenAsTheRecordsDirectoryIsOneClearLine() throws Exception {
        Path file = java.nio.file.Files.writeString(dir.resolve("not-a-dir"), "x");
        for (String flag : List.of("--dir", "-dir")) {
            String[] r = status("status", "--json", flag, file.toString());
            assertEquals("1", r[0], r[1] + r[2]);
            assertEquals("", r[1], "no records printed");
            assertEquals("drafter: could not read the status records in " + file + ": not a directory", r[2].strip());
        }
        assertEquals("x", java.nio.file.Files.readString(file), "the file is left as it was");
    }

    @Test
    void aBadFlagIsOneClearLine() {
        String[] r = status("status", "--jsonn");
        assertEquals("2", r[0]);
        assertTrue(r[2].startsWith("drafter: "), r[2]);
    }
}
