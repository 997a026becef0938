package io.drafter.peer;

import io.drafter.base.DeviceRole;
import io.drafter.migration.source.AuthenticatedDestination;
import io.drafter.migration.source.DirtyPolicy;
import io.drafter.migration.source.MigrationListener;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceDevice;
import io.drafter.migration.source.SourceOptions;
import io.drafter.migration.source.SuspendHook;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.dirty.DirtyTrackingDevice;
import io.drafter.storage.source.FileBlockDevice;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Drafter's {@code drafter-registry}: serves a package's devices, read-only, to many peers at once and never runs a VM.
 * Each session is a serve-only migration ({@link SourceOptions#serveOnly()}): authority goes to the peer right after
 * the handshake, so it resumes the VM at once and fetches the blocks it reads first while every other block streams in
 * behind. The files are opened read-only and never change.
 *
 * <p><b>Note:</b> thread-safe; one {@link #serve} at a time.
 */
public final class Registry implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Registry.class.getName());
    /** A registry has nothing to suspend: the hook is never called (no rounds, no suspend). */
    private static final SuspendHook NOTHING_RUNS = new SuspendHook() {
        @Override
        public void suspend() {}

        @Override
        public void resume() {}
    };

    /** One device of the package: its name, its file and the block size it is served in. */
    public record Device(String name, Path input, int blockSizeBytes) {}

    /** Told about each session; called on engine threads. */
    public interface Events {
        default void started(String peer) {}

        default void completed(String peer, SourceCounters counters, Duration took) {}

        default void failed(String peer, IOException cause) {}
    }

    private final Map<String, FileBlockDevice> files = new LinkedHashMap<>();
    private final Set<MigrationSource> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicLong served = new AtomicLong();
    private final boolean compression;

    private Registry(boolean compression) {
        this.compression = compression;
    }

    /**
     * Opens every device's file read-only. The devices are served in the order a VM starting from them needs them
     * ({@link #START_ORDER}: what QEMU reads to start and load the state, then guest RAM), the others after them in the
     * order given.
     *
     * @throws IOException {@code could not open device file ...} naming the first file that cannot be opened; nothing
     *     stays open then
     */
    public static Registry open(List<Device> devices, boolean compression) throws IOException {
        if (devices.isEmpty()) {
            throw new IllegalArgumentException("could not serve a package: no devices");
        }
        Registry r = new Registry(compression);
        boolean ok = false;
        try {
            List<Device> inStartOrder = new ArrayList<>(devices);
            inStartOrder.sort(java.util.Comparator.comparingInt(d -> {
                int i = START_ORDER.indexOf(d.name());
                return i < 0 ? START_ORDER.size() : i;
            }));
            for (Device d : inStartOrder) {
                if (r.files.containsKey(d.name())) {
                    throw new IllegalArgumentException(
                            "could not serve a package: device \"" + d.name() + "\" is listed twice");
                }
                r.files.put(d.name(), FileBlockDevice.open(d.input(), d.blockSizeBytes(), false));
            }
            ok = true;
            return r;
        } finally {
            if (!ok) {
                r.close();
            }
        }
    }

    /** The devices served, in the order they are sent, by name. */
    public Map<String, ? extends BlockDevice> devices() {
        return java.util.Collections.unmodifiableMap(files);
    }

    /** Sessions that ran to their end (the peer had every block). */
    public long servedCount() {
        return served.get();
    }

    /**
     * Serves every destination that {@code listener} authenticates (bind it with {@code serveOnly} and as many sessions
     * as peers may fetch at once) until {@code stop} completes; then takes no new session and gives the running ones up
     * to {@code drain} to finish (their VMs run on what they fetched and need the rest), and aborts those still
     * running.
     *
     * @return the number of sessions aborted
     */
    public int serve(MigrationListener listener, Events events, CompletableFuture<?> stop, Duration drain)
            throws IOException, InterruptedException {
        Events ev = events == null ? new Events() {} : events;
        int aborted;
        try {
            while (!stop.isDone()) {
                AuthenticatedDestination d;
                try {
                    d = listener.accept(Duration.ofMillis(200));
                } catch (SocketTimeoutException e) {
                    continue; // look at the stop request again
                }
                start(d, ev);
            }
            listener.close();
            long deadline = System.nanoTime() + drain.toNanos();
            while (!sessions.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
        } finally {
            // However serving ended: no new session, and none left running over files the caller closes next.
            listener.close();
            aborted = 0;
            for (MigrationSource s : sessions) {
                s.abort();
                aborted++;
            }
        }
        return aborted;
    }

    private void start(AuthenticatedDestination d, Events ev) {
        String peer = d.peer();
        long startNs = System.nanoTime();
        MigrationSource s;
        try {
            s = MigrationSource.start(d, sessionDevices(), options(), NOTHING_RUNS, null);
        } catch (IOException e) {
            ev.failed(peer, e);
            return;
        }
        sessions.add(s);
        ev.started(peer);
        Thread.ofVirtual().name("registry-session-" + peer).start(() -> {
            try {
                SourceCounters c = s.awaitCompleted(Peer.migrationLimit());
                served.incrementAndGet();
                ev.completed(peer, c, Duration.ofNanos(System.nanoTime() - startNs));
            } catch (IOException e) {
                ev.failed(peer, e);
            } catch (InterruptedException e) {
                s.abort();
            } finally {
                sessions.remove(s);
            }
        });
    }

    private SourceOptions options() {
        // The listener authenticated the destination; its token and transport settings are the ones that count.
        return SourceOptions.defaults().withCompression(compression).withServeOnly(true);
    }

    /** Each session tracks its own (always empty) dirty set over the shared read-only files, in the files' order. */
    private List<SourceDevice> sessionDevices() {
        List<SourceDevice> out = new ArrayList<>();
        files.forEach(
                (name, f) -> out.add(new SourceDevice(name, new DirtyTrackingDevice(f), null, DirtyPolicy.NO_ROUNDS)));
        return out;
    }

    /** The devices a VM needs first when it starts from a registry, in that order. */
    static final List<String> START_ORDER = java.util.stream.Stream.of(
                    DeviceRole.CONFIG, DeviceRole.STATE, DeviceRole.KERNEL, DeviceRole.INITRD, DeviceRole.MEMORY)
            .map(DeviceRole::deviceName)
            .toList();

    /** Closes the files. Sessions still running fail their reads: stop {@link #serve} first. */
    @Override
    public void close() {
        for (FileBlockDevice f : files.values()) {
            try {
                f.close();
            } catch (IOException e) {
                LOG.log(Level.WARNING, "could not close " + f + ": " + e.getMessage());
            }
        }
    }
}
