package io.drafter.vm.qemu;

import io.drafter.base.Threads;
import io.drafter.vm.Accel;
import io.drafter.vm.StateSource;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmException;
import io.drafter.vm.VmInstance;
import io.drafter.vm.VmmFiles;
import io.drafter.vm.VmmUser;
import io.drafter.vm.agent.AgentCall;
import io.drafter.vm.agent.AgentClient;
import io.drafter.vm.qmp.QmpClient;
import io.drafter.vm.qmp.QmpCommand;
import io.drafter.vm.qmp.QmpEvent;
import io.drafter.vm.qmp.QmpException;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

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
    /** Where QEMU reads its device state from, once {@link #listenForState} connected it. */
    private volatile SocketChannel stateIn;

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

    /**
     * Called by {@link QemuVmm#startDeferred}: QEMU's incoming migration listens on {@link
     * QemuCommandLine#STATE_SOCKET}, and this process connects to it now. QEMU then waits for the state's bytes without
     * reading anything, and {@link #loadState} only writes them: no command, no file for QEMU to open.
     */
    void listenForState() throws VmException {
        Path socket = QemuCommandLine.socketDir(config).resolve(QemuCommandLine.STATE_SOCKET);
        qmp.execute(new QmpCommand.MigrateIncoming("unix:" + socket), Duration.ofSeconds(10));
        try {
            stateIn = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            throw new VmException("could not connect to QEMU's state socket " + socket + ": " + e + diagnostics(), e);
        }
    }

    @Override
    public void loadState(Path stateFile) throws VmException {
        QemuVmm.checkStateFile(stateFile);
        QemuVmm.checkUserCanOpen(stateFile, false, "resume", "state file", user);
        try (FileChannel ch = FileChannel.open(stateFile, StandardOpenOption.READ)) {
            loadState(new StateSource(ch.size(), ch::read), stateFile.toString());
        } catch (VmException e) {
            throw e;
        } catch (IOException e) {
            throw new VmException("could not read state file " + stateFile + ": " + e, e);
        }
    }

    @Override
    public void loadState(StateSource state) throws VmException {
        loadState(state, "the state device");
    }

    private void loadState(StateSource state, String from) throws VmException {
        if (startedAfter == null) {
            throw new IllegalStateException("this VM was booted, not started for a resume");
        }
        if (resumeTimings != null) {
            throw new IllegalStateException("the device state of this VM is loaded already");
        }
        SocketChannel ch = stateIn;
        if (ch == null) {
            throw new IllegalStateException("this VM's incoming migration does not listen for its state");
        }
        long t0 = System.nanoTime();
        StateWriter writer = new StateWriter(state, ch, from);
        writer.checkMagic();
        Thread t = Thread.ofPlatform().name("state-in").start(writer);
        try {
            awaitMigration(stateLoadTimeout, "load device state from " + from, true);
        } catch (VmException e) {
            if (writer.failure != null) {
                throw new VmException(writer.failure.getMessage() + diagnostics(), writer.failure);
            }
            throw e;
        } finally {
            // QEMU read up to its stream's end and closed its side; the padding after it goes nowhere.
            closeQuietly(ch);
            Threads.joinAll(List.of(t)); // it ends once the socket is closed
        }
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

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "could not close the state socket: {0}", e.getMessage());
        }
    }

    /**
     * Writes a {@link StateSource} into QEMU's state socket, then shuts its side, so that a stream cut short fails
     * QEMU's load at once instead of leaving it waiting. QEMU closing its side (it has read its stream's end) ends the
     * writing too: only a failure to read the state counts.
     */
    private static final class StateWriter implements Runnable {
        private static final int CHUNK = 1 << 16;
        private final StateSource state;
        private final SocketChannel ch;
        private final String from;
        private final ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
        volatile VmException failure;

        StateWriter(StateSource state, SocketChannel ch, String from) {
            this.state = state;
            this.ch = ch;
            this.from = from;
        }

        /** Reads the first chunk: a state that is no QEMU stream fails here, before QEMU sees a byte. */
        void checkMagic() throws VmException {
            try {
                fill(0);
            } catch (IOException e) {
                throw new VmException("could not read " + from + ": " + e, e);
            }
            byte[] head = new byte[QemuVmm.STATE_MAGIC.length];
            if (buf.remaining() < head.length) {
                throw new VmException("could not resume: " + from + " is not a QEMU state stream (too short)");
            }
            buf.get(0, head);
            if (!java.util.Arrays.equals(head, QemuVmm.STATE_MAGIC)) {
                throw new VmException("could not resume: " + from + " is not a QEMU state stream (no QEVM magic)");
            }
        }

        /** Fills {@link #buf} from {@code offset} (fewer bytes only at the end) and flips it. */
        private void fill(long offset) throws IOException {
            buf.clear().limit((int) Math.min(CHUNK, Math.max(0, state.size() - offset)));
            while (buf.hasRemaining()) {
                if (state.read(buf, offset + buf.position()) < 0) {
                    break;
                }
            }
            buf.flip();
        }

        @Override
        public void run() {
            long offset = 0;
            try {
                while (true) {
                    int n = buf.remaining();
                    if (n == 0) {
                        break;
                    }
                    try {
                        while (buf.hasRemaining()) {
                            ch.write(buf);
                        }
                    } catch (IOException e) {
                        return; // QEMU closed its side: it has what it reads, or failed (its error says why)
                    }
                    offset += n;
                    try {
                        fill(offset);
                    } catch (IOException e) {
                        failure = new VmException("could not read " + from + " at byte " + offset + ": " + e, e);
                        closeQuietly(ch);
                        return;
                    }
                }
                ch.shutdownOutput();
            } catch (IOException e) {
                // closed meanwhile: the load ended
            }
        }
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

    /** The longest a QMP {@code stop} may take. */
    private static final Duration PAUSE_TIMEOUT = Duration.ofSeconds(10);

    @Override
    public void pause() throws VmException {
        qmp.execute(new QmpCommand.Stop(), PAUSE_TIMEOUT);
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
        try {
            // QEMU opens the state file after it dropped privileges: it gets an empty file of its own to write.
            VmmFiles.createPrivate(stateFile, user);
        } catch (IOException e) {
            throw new VmException("could not replace state file " + stateFile + ": " + e, e);
        }
        forgetMigrationEnds();
        long t1 = System.nanoTime();
        // stop and migrate go out back to back: QEMU starts the save as soon as the vCPUs stopped, with no round
        // trip in between.
        QmpClient.Reply stopped = qmp.submit(new QmpCommand.Stop());
        QmpClient.Reply migrating = qmp.submit(new QmpCommand.Migrate("file:" + stateFile));
        try {
            stopped.await(PAUSE_TIMEOUT);
        } catch (QmpException e) {
            // The save may run all the same (it stops the vCPUs itself): let it end before the caller resumes.
            try {
                awaitSave(migrating, stateFile, timeout);
            } catch (VmException ignored) {
                // the stop's failure is the one to report
            }
            throw e;
        }
        // Once paused nothing writes guest RAM, and the save (x-ignore-shared) reads none of it: the RAM's flush
        // and the device state's save run side by side. A platform thread: this JVM's FUSE may serve the file.
        MemoryFlush flush = new MemoryFlush();
        Thread flusher = Thread.ofPlatform().name("ram-flush").start(flush);
        long t2;
        try {
            awaitSave(migrating, stateFile, timeout);
            t2 = System.nanoTime();
        } finally {
            Threads.joinAll(List.of(flusher)); // the caller must not go on while RAM is half written
        }
        if (flush.failure != null) {
            throw flush.failure;
        }
        long size;
        try {
            size = Files.size(stateFile);
        } catch (IOException e) {
            throw new VmException("could not stat state file " + stateFile + ": " + e, e);
        }
        return new SnapshotResult(
                stateFile,
                size,
                before,
                Duration.ofNanos(Math.max(t2, flush.doneNs) - t1),
                Duration.ofNanos(flush.doneNs - t1),
                Duration.ofNanos(t2 - t1));
    }

    /** Waits until the save {@code migrating} started (its {@code migrate} answered) has written {@code stateFile}. */
    private void awaitSave(QmpClient.Reply migrating, Path stateFile, Duration timeout) throws VmException {
        migrating.await(timeout);
        awaitMigration(timeout, "save device state to " + stateFile, false);
    }

    /** {@link #flushMemory} on a thread of its own: when it ended, and how it failed. */
    private final class MemoryFlush implements Runnable {
        volatile long doneNs;
        volatile VmException failure;

        @Override
        public void run() {
            try {
                flushMemory();
            } catch (VmException e) {
                failure = e;
            } catch (RuntimeException e) {
                failure = new VmException("could not fsync memory file " + config.memoryFile() + ": " + e, e);
            } finally {
                doneNs = System.nanoTime();
            }
        }
    }

    @Override
    public void prepareSnapshot(Duration timeout) throws VmException {
        long t0 = System.nanoTime();
        agent.call(new AgentCall.BeforeSuspend(), timeout);
        // While the guest still runs: set up the save and write back what it dirtied so far, so that the flush after
        // the pause (inside the paused window) carries only the pages of the last milliseconds.
        qmp.execute(new QmpCommand.MigrateSetCapabilities(MIGRATION_CAPABILITIES), timeout);
        flushMemory();
        prepared = Duration.ofNanos(System.nanoTime() - t0);
    }

    /**
     * The migration capabilities of a save and of a load: no guest RAM in the stream (it is in the shared memory file),
     * and the {@code MIGRATION} events that {@link #awaitMigration} waits for.
     */
    static final Map<String, Boolean> MIGRATION_CAPABILITIES = Map.of("x-ignore-shared", true, "events", true);

    /** The statuses that end a migration, out or in. */
    private static final Set<String> MIGRATION_ENDS = Set.of("completed", "failed", "cancelled");

    /** QEMU's event that ends a migration, out or in. */
    private static final Predicate<QmpEvent> MIGRATION_END = e -> e.name().equals("MIGRATION")
            && MIGRATION_ENDS.contains(e.data().path("status").asText());

    /**
     * Waits for the {@code MIGRATION} event that ends this VM's migration, out (a state save) or in (a load): QEMU sends
     * it the moment the migration ends (the {@code events} capability is on), where polling {@code query-migrate} would
     * notice a poll later. Fails naming QEMU's error description, or when QEMU exits (a failed load ends it).
     */
    void awaitMigration(Duration timeout, String step, boolean incoming) throws VmException {
        QmpEvent end;
        try {
            end = qmp.awaitEvent(MIGRATION_END, timeout);
        } catch (QmpException e) {
            if (!qmp.isOpen() || !process.isAlive()) {
                waitExit(Duration.ofSeconds(2));
                throw new VmException("could not " + step + ": QEMU exited" + diagnostics(), e);
            }
            throw new VmException("could not " + step + ": migration " + migrationStatus() + " after " + timeout, e);
        }
        String status = end.data().path("status").asText();
        if (status.equals("completed")) {
            return;
        }
        String why = "no detail";
        try {
            why = qmp.execute(new QmpCommand.QueryMigrate(), Duration.ofSeconds(2))
                    .path("error-desc")
                    .asText(why);
        } catch (QmpException e) {
            // QEMU ended after a failed load: its log says why
        }
        if (incoming) {
            waitExit(Duration.ofSeconds(2));
            throw new VmException("could not " + step + ": " + why + diagnostics());
        }
        throw new VmException("could not " + step + ": migration " + status + ": " + why + diagnostics());
    }

    /** Drops the end events of earlier migrations of this QEMU (one that timed out), so a wait sees only its own. */
    private void forgetMigrationEnds() {
        qmp.discardEvents(MIGRATION_END);
    }

    /** {@code query-migrate}'s status, or why it could not be asked. */
    private String migrationStatus() {
        try {
            return "still "
                    + qmp.execute(new QmpCommand.QueryMigrate(), Duration.ofSeconds(2))
                            .path("status")
                            .asText("none");
        } catch (QmpException e) {
            return "status unknown (" + e.getMessage() + ")";
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
            SocketChannel in = stateIn;
            if (in != null) {
                closeQuietly(in);
            }
            if (qmp != null) {
                qmp.close();
            }
            Path sockets = QemuCommandLine.socketDir(config);
            if (!sockets.equals(config.runDir().toAbsolutePath())) {
                try {
                    Files.deleteIfExists(sockets.resolve(QemuCommandLine.QMP_SOCKET));
                    Files.deleteIfExists(sockets.resolve(QemuCommandLine.AGENT_SOCKET));
                    Files.deleteIfExists(sockets.resolve(QemuCommandLine.STATE_SOCKET));
                    Files.deleteIfExists(sockets.resolve(QemuCommandLine.STATE_SOCKET_DIR));
                    Files.deleteIfExists(sockets);
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.DEBUG, "could not remove {0}: {1}", sockets, e.getMessage());
                }
            }
        }
    }
}
