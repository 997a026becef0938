package io.drafter.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.drafter.linux.ProcessState;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The status record of a long-running {@code drafter} command ({@code peer}, {@code runner}, {@code nat}, {@code
 * forwarder}): a small JSON file {@code <dir>/<command>-<pid>.json} that the command writes when it starts, rewrites
 * every second while something in it changed, and removes when it exits; {@code drafter status} reads them all.
 *
 * <p>The directory is {@code $DRAFTER_STATUS_DIR}, else {@code /run/drafter} (a tmpfs: records do not outlive a
 * reboot). Each write is atomic (a private temporary file moved over the record) and the record is readable by its
 * owner only (0600). A command killed with SIGKILL leaves its record behind: a reader skips every record whose process
 * is gone, or whose PID now belongs to a process started at another time, and the next command that starts removes
 * it. Writing is best effort: a command that
 * cannot write its record says so once in the log and runs on.
 *
 * <p><b>Note:</b> thread-safe; one refresher thread per record.
 */
final class StatusRecord implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(StatusRecord.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    static final String DEFAULT_DIR = "/run/drafter";

    private final Path file;
    private final Map<String, Object> fixed;
    private final Supplier<Map<String, Object>> details;
    private final Thread refresher;
    private String written;
    private boolean failed;
    private volatile boolean closed;

    private StatusRecord(Path file, Map<String, Object> fixed, Supplier<Map<String, Object>> details, long periodMs) {
        this.file = file;
        this.fixed = fixed;
        this.details = details;
        refresh();
        this.refresher = Thread.ofVirtual().name("status-record").start(() -> {
            while (!closed) {
                try {
                    Thread.sleep(periodMs);
                } catch (InterruptedException e) {
                    return;
                }
                refresh();
            }
        });
    }

    /**
     * The directory of the records: {@code $DRAFTER_STATUS_DIR}, else {@value #DEFAULT_DIR}; for a user other than root
     * who may not write there, {@code $XDG_RUNTIME_DIR/drafter}.
     */
    static Path dir() {
        String env = System.getenv("DRAFTER_STATUS_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        Path system = Path.of(DEFAULT_DIR);
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        boolean root = "root".equals(System.getProperty("user.name"));
        boolean writable = Files.isDirectory(system) ? Files.isWritable(system) : Files.isWritable(system.getParent());
        if (root || writable || xdg == null || xdg.isBlank()) {
            return system;
        }
        return Path.of(xdg, "drafter");
    }

    /** Writes the record of this process's {@code command} under {@link #dir()} and keeps it current. */
    static StatusRecord start(String command, Supplier<Map<String, Object>> details) {
        return start(dir(), command, details, 1000);
    }

    /** As {@link #start(String, Supplier)}, under {@code dir}, refreshed every {@code periodMs}. */
    static StatusRecord start(Path dir, String command, Supplier<Map<String, Object>> details, long periodMs) {
        ProcessHandle self = ProcessHandle.current();
        Map<String, Object> fixed = new LinkedHashMap<>();
        fixed.put("command", command);
        fixed.put("pid", self.pid());
        fixed.put("started", startOf(self).map(Instant::toString).orElse(null));
        fixed.put("cwd", Path.of("").toAbsolutePath().toString());
        removeStale(dir);
        return new StatusRecord(dir.resolve(command + "-" + self.pid() + ".json"), fixed, details, periodMs);
    }

    /** The record's file. */
    Path file() {
        return file;
    }

    /** Writes the record now if it changed. */
    synchronized void refresh() {
        if (closed) {
            return;
        }
        Map<String, Object> record = new LinkedHashMap<>(fixed);
        try {
            Map<String, Object> d = details.get();
            if (d != null) {
                record.putAll(d);
            }
        } catch (RuntimeException e) {
            record.put("error", "could not collect the status: " + Drafter.oneLine(e));
        }
        try {
            String json = JSON.writeValueAsString(record);
            if (json.equals(written)) {
                return;
            }
            write(json);
            written = json;
        } catch (IOException e) {
            if (!failed) {
                failed = true;
                LOG.log(
                        System.Logger.Level.WARNING,
                        "could not write the status record " + file + " (drafter status will not list this process): "
                                + e.getMessage());
            }
        }
    }

    private void write(String json) throws IOException {
        Path parent = file.getParent();
        if (!Files.isDirectory(parent)) {
            Files.createDirectories(parent);
        }
        Path tmp = Files.createTempFile(
                parent,
                "." + file.getFileName(),
                ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.writeString(tmp, json + "\n");
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Removes, best effort, the records under {@code dir} that processes killed with SIGKILL left behind. */
    static void removeStale(Path dir) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (var list = Files.list(dir)) {
            for (Path f : list.filter(p -> p.getFileName().toString().endsWith(".json"))
                    .toList()) {
                try {
                    Map<String, Object> r = JSON.readValue(f.toFile(), new TypeReference<Map<String, Object>>() {});
                    if (r.get("pid") instanceof Number && r.get("command") != null && !alive(r)) {
                        Files.deleteIfExists(f);
                    }
                } catch (IOException | RuntimeException e) {
                    // not a record, or not ours to remove
                }
            }
        } catch (IOException e) {
            // nothing to clean
        }
    }

    /** Stops refreshing and removes the record. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        refresher.interrupt();
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not remove the status record " + file + ": " + e.getMessage());
        }
    }

    private static Optional<Instant> startOf(ProcessHandle p) {
        return p.info().startInstant();
    }

    /**
     * The records under {@code dir} of processes that still run, oldest first; unreadable records, and those of
     * processes that are gone (or whose PID was reused), are skipped.
     */
    static List<Map<String, Object>> readAll(Path dir) throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        List<Path> files;
        try (var list = Files.list(dir)) {
            files = list.filter(p -> p.getFileName().toString().endsWith(".json")
                            && !p.getFileName().toString().startsWith("."))
                    .toList();
        }
        for (Path f : files) {
            Map<String, Object> r;
            try {
                r = JSON.readValue(f.toFile(), new TypeReference<Map<String, Object>>() {});
            } catch (IOException e) {
                if (Files.exists(f) && !Files.isReadable(f)) {
                    throw new IOException("could not read " + f + ": permission denied (run drafter status as the"
                            + " user that runs the commands, e.g. root)");
                }
                continue; // removed meanwhile, or not a record
            }
            if (alive(r)) {
                out.add(r);
            }
        }
        out.sort(Comparator.comparing((Map<String, Object> r) -> String.valueOf(r.get("started")))
                .thenComparing(r -> String.valueOf(r.get("pid"))));
        return out;
    }

    /**
     * Whether the process of record {@code r} still runs: its PID runs (a zombie, which serves nothing, does not; see
     * {@link ProcessState#runs}) and was started when the record says.
     */
    static boolean alive(Map<String, Object> r) {
        if (!(r.get("pid") instanceof Number n)) {
            return false;
        }
        Optional<ProcessHandle> p = ProcessHandle.of(n.longValue());
        if (p.isEmpty() || !ProcessState.runs(n.longValue())) {
            return false;
        }
        Object started = r.get("started");
        Optional<Instant> actual = startOf(p.get());
        if (started == null || actual.isEmpty()) {
            return true;
        }
        try {
            // The JDK reports the start time to the clock tick: allow a second of difference.
            return Math.abs(Instant.parse(started.toString()).toEpochMilli()
                            - actual.get().toEpochMilli())
                    < 1000;
        } catch (RuntimeException e) {
            return true;
        }
    }
}
