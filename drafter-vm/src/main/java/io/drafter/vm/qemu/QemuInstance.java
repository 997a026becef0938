package io.drafter.vm.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import io.drafter.vm.Accel;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.VmmFiles;
import io.drafter.vm.VmmUser;
import io.drafter.vm.agent.AgentCall;
import io.drafter.vm.agent.AgentClient;
import io.drafter.vm.qmp.QmpClient;
import io.drafter.vm.qmp.QmpCommand;
import io.drafter.vm.qmp.QmpException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One {@code qemu-system-x86_64} process started by {@link QemuVmm}, with its QMP and agent
 * connections. Threading: one controlling thread; {@link #close()} from any thread, idempotent, ends the
 * process by its PID (QMP {@code quit}, then SIGKILL).
 */
public final class QemuInstance implements VmInstance {
    private static final System.Logger LOG = System.getLogger(QemuInstance.class.getName());

    private final VmConfig config;
    private final Accel accel;
    private final Process process;
    private final Path qemuLog;
    private final VmmUser user;
    private volatile QmpClient qmp;
    private volatile AgentClient agent;
    private volatile boolean closed;
    private volatile ResumeTimings resumeTimings;
    private volatile long preparedAtNs;
    private volatile Duration startedAfter;
    private volatile Duration stateLoadTimeout;
    /** How long {@link #prepareSnapshot} took, until the snapshot it prepared (or a resume) clears it. */
    private volatile Duration prepared;

    /**
     * How long the steps of a resume took.
     *
     * @param started QEMU process start until QMP and agent sockets answered
     * @param stateLoaded until the device state was loaded ({@code migrate-incoming} completed)
     * @param running until {@code cont} returned (the guest runs), or {@code null} while it is only prepared
     * @param afterResume until the guest agent answered {@code AfterResume}, or {@code null} before
     */
    public record ResumeTimings(Duration started, Duration stateLoaded, Duration running, Duration afterResume) {}

    QemuInstance(VmConfig config, Accel accel, Process process, Path qemuLog, VmmUser user) {
        this.config = config;
        this.accel = accel;
        this.process = process;
        this.qemuLog = qemuLog;
        this.user = user;
    }

    void connect(Duration timeout) throws VmException {
        Path sockets = QemuCommandLine.socketDir(config);
        qmp = QmpClient.connect(sockets.resolve(QemuCommandLine.QMP_SOCKET), timeout, process::isAlive);
        agent = AgentClient.connect(sockets.resolve(QemuCommandLine.AGENT_SOCKET), timeout, process::isAlive);
    }

    /** Timings of the resume that started this VM, or {@code null} when it was booted. */
    public ResumeTimings resumeTimings() {
        return resumeTimings;
    }

    /** Called by {@link QemuVmm#startDeferred} once QEMU answers: the start's time, from {@code startNs}. */
    void started(long startNs, Duration started, Duration loadTimeout) {
        preparedAtNs = startNs;
        startedAfter = started;
        stateLoadTimeout = loadTimeout;
    }

    @Override
    public void loadState(Path stateFile) throws VmException {
        if (startedAfter == null) {
            throw new IllegalStateException("this VM was booted, not started for a resume");
        }
        if (resumeTimings != null) {
            throw new IllegalStateException("the device state of this VM is loaded already");
        }
        QemuVmm.checkStateFile(stateFile);
        QemuVmm.checkUserCanOpen(stateFile, false, "resume", "state file", user);
        long t0 = System.nanoTime();
        qmp.execute(new QmpCommand.MigrateIncoming("file:" + stateFile), Duration.ofSeconds(10));
        awaitIncoming(stateLoadTimeout, stateFile);
        long t1 = System.nanoTime();
        // Started ahead (a peer taking a VM over starts QEMU while the source still runs): time from this load on.
        if (t0 - preparedAtNs > startedAfter.toNanos() + 50_000_000L) {
            preparedAtNs = t0 - startedAfter.toNanos();
        }
        resumeTimings = new ResumeTimings(startedAfter, Duration.ofNanos(t1 - preparedAtNs), null, null);
        LOG.log(
                System.Logger.Level.INFO,
                "prepared pid {0}: QEMU up {1} ms, state loaded in {2} ms",
                pid(),
                startedAfter.toMillis(),
                (t1 - t0) / 1_000_000);
    }

    /** The QMP client of this VM. */
    public QmpClient qmp() {
        return qmp;
    }

    @Override
    public long pid() {
        return process.pid();
    }

    @Override
    public Accel accel() {
        return accel;
    }

    @Override
    public VmConfig config() {
        return config;
    }

    @Override
    public boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void awaitReady(Duration timeout) throws VmException {
        // In slices, so that a guest that panicked or a QEMU that exited is reported at once, not after the timeout.
        long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (true) {
            long leftNs = deadlineNs - System.nanoTime();
            try {
                agent.awaitReady(Duration.ofNanos(Math.max(0, Math.min(leftNs, 250_000_000L))));
                return;
            } catch (VmException e) {
                if (!process.isAlive()) {
                    throw new VmException(
                            "could not see guest liveness: QEMU exited (status " + process.exitValue() + ")"
                                    + diagnostics(),
                            e);
                }
                String console = tail(config.consoleLog(), 200);
                if (console.contains("Kernel panic")) {
                    throw new VmException(
                            "could not see guest liveness: the guest kernel panicked [" + lastLines(console, 4) + "]",
                            e);
                }
                if (System.nanoTime() >= deadlineNs) {
                    throw new VmException(e.getMessage() + diagnostics(), e);
                }
            }
        }
    }

    /** The last {@code n} non-blank lines of {@code text}, joined with " | ", printable ASCII only, at most 400 chars. */
    static String lastLines(String text, int n) {
        List<String> lines =
                text.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        String joined = String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()))
                .replaceAll("[^\\x20-\\x7e]", "?");
        return joined.length() > 400 ? "…" + joined.substring(joined.length() - 400) : joined;
    }

    @Override
    public void pause() throws VmException {
        qmp.execute(new QmpCommand.Stop(), Duration.ofSeconds(10));
    }

    @Override
    public void cont() throws VmException {
        prepared = null;
        qmp.execute(new QmpCommand.Cont(), Duration.ofSeconds(10));
        ResumeTimings t = resumeTimings;
        if (t != null && t.running() == null) {
            resumeTimings = new ResumeTimings(
                    t.started(), t.stateLoaded(), Duration.ofNanos(System.nanoTime() - preparedAtNs), null);
        }
    }

    @Override
    public void flushMemory() throws VmException {
        try (FileChannel ch = FileChannel.open(config.memoryFile(), StandardOpenOption.WRITE)) {
            ch.force(true);
        } catch (IOException e) {
            throw new VmException("could not fsync memory file " + config.memoryFile() + ": " + e, e);
        }
    }

    @Override
    public SnapshotResult snapshot(Path stateFile, Duration timeout) throws VmException {
        // Before the guest is told to suspend: a state file QEMU could not write must not leave the VM paused.
        Path parent = stateFile.toAbsolutePath().getParent();
        try {
            String why = user == null ? null : VmmFiles.unsearchable(parent, user);
            if (why != null) {
                throw new VmException(
                        "could not save device state to " + stateFile + " with QEMU as " + user + ": " + why);
            }
        } catch (IOException e) {
            if (e instanceof VmException ve) {
                throw ve;
            }
            throw new VmException("could not check state file directory " + parent + ": " + e, e);
        }
        Duration before = prepared;
        if (before == null) {
            prepareSnapshot(timeout);
            before = prepared;
        } else {
            // Prepared a while ago (a migration sent one more round since): write back again what the guest dirtied
            // meanwhile, while it still runs.
            long t0 = System.nanoTime();
            flushMemory();
            before = before.plusNanos(System.nanoTime() - t0);
        }
        prepared = null;
        long t1 = System.nanoTime();
        pause();
        flushMemory();
        long flushed = System.nanoTime();
        try {
            // QEMU opens the state file after it dropped privileges: it gets an empty file of its own to write.
            VmmFiles.createPrivate(stateFile, user);
        } catch (IOException e) {
            throw new VmException("could not replace state file " + stateFile + ": " + e, e);
        }
        qmp.execute(new QmpCommand.Migrate("file:" + stateFile), timeout);
        awaitMigration(timeout, "save device state to " + stateFile);
        long t2 = System.nanoTime();
        long size;
        try {
            size = Files.size(stateFile);
        } catch (IOException e) {
            throw new VmException("could not stat state file " + stateFile + ": " + e, e);
        }
        return new SnapshotResult(stateFile, size, before, Duration.ofNanos(t2 - t1), Duration.ofNanos(flushed - t1));
    }

    @Override
    public void prepareSnapshot(Duration timeout) throws VmException {
        long t0 = System.nanoTime();
        agent.call(new AgentCall.BeforeSuspend(), timeout);
        // While the guest still runs: set up the save and write back what it dirtied so far, so that the flush after
        // the pause (inside the paused window) carries only the pages of the last milliseconds.
        qmp.execute(new QmpCommand.MigrateSetCapabilities(Map.of("x-ignore-shared", true)), timeout);
        flushMemory();
        prepared = Duration.ofNanos(System.nanoTime() - t0);
    }

    /** Polls {@code query-migrate} until it completes; fails naming QEMU's error description. */
    void awaitMigration(Duration timeout, String step) throws VmException {
        long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (true) {
            JsonNode r = qmp.execute(new QmpCommand.QueryMigrate(), Duration.ofSeconds(10));
            String status = r.path("status").asText("none");
            switch (status) {
                case "completed" -> {
                    return;
                }
                case "failed", "cancelled" ->
                    throw new VmException("could not " + step + ": migration " + status + ": "
                            + r.path("error-desc").asText("no detail") + diagnostics());
                default -> {
                    if (!process.isAlive()) {
                        throw new VmException("could not " + step + ": QEMU exited" + diagnostics());
                    }
                    if (System.nanoTime() > deadlineNs) {
                        throw new VmException(
                                "could not " + step + ": migration still " + status + " after " + timeout);
                    }
                    try {
                        Thread.sleep(2);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new VmException("could not " + step + ": interrupted");
                    }
                }
            }
        }
    }

    /** Waits for an incoming migration (resume) to finish loading; QEMU exits when loading fails. */
    void awaitIncoming(Duration timeout, Path stateFile) throws VmException {
        long deadlineNs = System.nanoTime() + timeout.toNanos();
        String step = "load device state from " + stateFile;
        while (true) {
            if (!process.isAlive()) {
                throw new VmException("could not " + step + ": QEMU exited" + diagnostics());
            }
            JsonNode r;
            try {
                r = qmp.execute(new QmpCommand.QueryMigrate(), Duration.ofSeconds(10));
            } catch (QmpException e) {
                waitExit(Duration.ofSeconds(2));
                throw new VmException("could not " + step + ": " + e.getMessage() + diagnostics(), e);
            }
            String status = r.path("status").asText("none");
            if (status.equals("completed")) {
                return;
            }
            if (status.equals("failed")) {
                waitExit(Duration.ofSeconds(2));
                throw new VmException(
                        "could not " + step + ": " + r.path("error-desc").asText("migration failed") + diagnostics());
            }
            if (System.nanoTime() > deadlineNs) {
                throw new VmException("could not " + step + ": still " + status + " after " + timeout);
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new VmException("could not " + step + ": interrupted");
            }
        }
    }

    @Override
    public void afterResume(Duration timeout) throws VmException {
        prepared = null;
        try {
            agent.call(new AgentCall.AfterResume(System.currentTimeMillis() / 1000), timeout);
        } catch (VmException e) {
            throw new VmException(e.getMessage() + diagnostics(), e);
        }
        ResumeTimings t = resumeTimings;
        if (t != null && t.running() != null && t.afterResume() == null) {
            resumeTimings = new ResumeTimings(
                    t.started(), t.stateLoaded(), t.running(), Duration.ofNanos(System.nanoTime() - preparedAtNs));
        }
    }

    /** Calls the agent with {@code call}; for tests and tools. */
    public void agentCall(AgentCall call, Duration timeout) throws VmException {
        agent.call(call, timeout);
    }

    @Override
    public String consoleTail(int lines) {
        return tail(config.consoleLog(), lines);
    }

    /** Console and QEMU log tails, formatted to append to an error message. */
    String diagnostics() {
        StringBuilder sb = new StringBuilder();
        String q = tail(qemuLog, 3).strip();
        if (!q.isEmpty()) {
            sb.append(" [qemu: ").append(q.replace('\n', ' ')).append(']');
        }
        String c = tail(config.consoleLog(), 3).strip();
        if (!c.isEmpty()) {
            sb.append(" [console: ").append(c.replace('\n', ' ')).append(']');
        }
        return sb.toString();
    }

    static String tail(Path file, int lines) {
        try {
            if (!Files.exists(file)) {
                return "";
            }
            List<String> all = Files.readAllLines(file, java.nio.charset.StandardCharsets.ISO_8859_1);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "";
        }
    }

    private void waitExit(Duration d) {
        try {
            process.waitFor(d.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Asks QEMU to quit and waits for the process to end. */
    public void quit(Duration timeout) {
        if (process.isAlive() && qmp != null && qmp.isOpen()) {
            try {
                qmp.execute(new QmpCommand.Quit(), Duration.ofSeconds(2));
            } catch (QmpException e) {
                // QEMU closes the socket while quitting; the exit below is what counts
                LOG.log(System.Logger.Level.DEBUG, "quit: {0}", e.getMessage());
            }
        }
        waitExit(timeout);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            quit(Duration.ofSeconds(2));
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly();
                waitExit(Duration.ofSeconds(5));
            }
            if (agent != null) {
                agent.close();
            }
            if (qmp != null) {
                qmp.close();
            }
            Path sockets = QemuCommandLine.socketDir(config);
            if (!sockets.equals(config.runDir().toAbsolutePath())) {
                try {
                    Files.deleteIfExists(sockets.resolve(QemuCommandLine.QMP_SOCKET));
                    Files.deleteIfExists(sockets.resolve(QemuCommandLine.AGENT_SOCKET));
                    Files.deleteIfExists(sockets);
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.DEBUG, "could not remove {0}: {1}", sockets, e.getMessage());
                }
            }
        }
    }
}
