package io.drafter.peer;

import io.drafter.migration.Authority;
import io.drafter.migration.DeviceTraffic;
import io.drafter.migration.destination.DestinationCounters;
import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.destination.MigrationDestination;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourcePhase;
import io.drafter.storage.DeviceStack;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.core.metrics.SummaryWithCallback;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Quantiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;

/**
 * A peer's metrics for Prometheus on {@code /metrics}, through the Prometheus Java client ({@code
 * io.prometheus:prometheus-metrics-*}): the JVM's and the process's own metrics, the VM's state, every device
 * stack's I/O and post-copy waits, and the migrations in and out (bytes, blocks, dirty rounds, phase durations, the
 * paused window, post-copy requests, authority). The migration metrics come from the engines' listeners ({@link
 * #outListener()}, {@link #inListener()}) and their counters; see {@code docs/operations.md} for the list.
 *
 * <p><b>Note:</b> thread-safe; the listeners are called on the engines' threads and only update metrics.
 */
public final class PeerMetrics {
    /** The {@code direction} label of a migration out. */
    public static final String OUT = "out";
    /** The {@code direction} label of a migration in. */
    public static final String IN = "in";

    private static final String[] VM_STATES = {"none", "prepared", "running", "saved"};

    private final boolean enabled;
    private final PrometheusRegistry registry;
    private final AtomicReference<Peer> peer = new AtomicReference<>();
    private final AtomicBoolean migratingTo = new AtomicBoolean();
    private final AtomicBoolean migratingFrom = new AtomicBoolean();
    /** Per device of a migration in: blocks present, blocks in all. */
    private final Map<String, long[]> inBlocks = new ConcurrentHashMap<>();

    private final Counter migrations;
    private final Histogram phaseSeconds;
    private final Histogram pausedSeconds;
    private final Counter dirtyRounds;
    private final Counter dirtyBlocks;
    private final Counter postcopyRequests;

    /** Migrations out that ended, summed; the latest one is read live. */
    private MigrationSource latestOut;

    private long endedOutBytes;
    private long endedOutBlocks;
    private long endedOutZeroBlocks;
    /** Per device: blocks, zero blocks and data bytes of the ended migrations out. */
    private final Map<String, long[]> endedOutPerDevice = new LinkedHashMap<>();

    private volatile long suspendedAtNs;
    /** When the attached peer's VM last paused ({@link System#nanoTime()}), 0 for none; read at SUSPENDING and GRANTED. */
    private final LongSupplier vmPausedAt;
    /** {@link #vmPausedAt} as the current migration out began to suspend: a later value is this migration's pause. */
    private volatile long pausedBeforeSuspend;

    private volatile String inPhase;

    /** Metrics with the JVM's and the process's. */
    public PeerMetrics() {
        this(true, null);
    }

    /** Metrics that take the VM's pause from {@code vmPausedAt} instead of the attached peer (tests). */
    PeerMetrics(LongSupplier vmPausedAt) {
        this(true, vmPausedAt);
    }

    /**
     * Metrics that measure nothing, for a peer that serves none: the Prometheus client (a third of a second of class
     * loading) stays off the path to the VM's resume.
     */
    public static PeerMetrics disabled() {
        return new PeerMetrics(false, null);
    }

    private PeerMetrics(boolean enabled, LongSupplier vmPausedAt) {
        this.enabled = enabled;
        this.vmPausedAt = vmPausedAt != null
                ? vmPausedAt
                : () -> {
                    Peer p = peer.get();
                    return p == null ? 0 : p.pausedAtNanos();
                };
        if (!enabled) {
            registry = null;
            migrations = null;
            phaseSeconds = null;
            pausedSeconds = null;
            dirtyRounds = null;
            dirtyBlocks = null;
            postcopyRequests = null;
            return;
        }
        registry = new PrometheusRegistry();
        JvmMetrics.builder().register(registry);
        migrations = Counter.builder()
                .name("drafter_migrations_total")
                .help("Migrations that ended, by direction and outcome (completed or failed).")
                .labelNames("direction", "outcome")
                .register(registry);
        phaseSeconds = Histogram.builder()
                .name("drafter_migration_phase_seconds")
                .help("Time a migration spent in each phase it left.")
                .labelNames("direction", "phase")
                .classicOnly()
                .classicUpperBounds(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
                .register(registry);
        pausedSeconds = Histogram.builder()
                .name("drafter_migration_paused_seconds")
                .help("Paused window of a migration out as the source sees it: from the VM's pause (after its"
                        + " BeforeSuspend and the last live round) to the grant that lets the destination run it.")
                .classicOnly()
                .classicUpperBounds(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10)
                .register(registry);
        dirtyRounds = Counter.builder()
                .name("drafter_migration_dirty_rounds_total")
                .help("Dirty rounds of migrations out, per device (the final set included).")
                .labelNames("device")
                .register(registry);
        dirtyBlocks = Counter.builder()
                .name("drafter_migration_dirty_blocks_total")
                .help("Blocks found dirty by the rounds of migrations out, per device.")
                .labelNames("device")
                .register(registry);
        postcopyRequests = Counter.builder()
                .name("drafter_migration_postcopy_requests_total")
                .help("Blocks a reader of the destination waited for and asked the source for, per direction and"
                        + " device.")
                .labelNames("direction", "device")
                .register(registry);
        registerPeerGauges();
        registerDeviceMetrics();
        registerMigrationTotals();
        registerMigrationPerDevice();
    }

    private void registerPeerGauges() {
        gauge("drafter_peer_vm_running", "Whether the VM runs on this peer.", () -> {
            Peer p = peer.get();
            return p != null && p.vm() != null && p.vm().isAlive() ? 1 : 0;
        });
        GaugeWithCallback.builder()
                .name("drafter_peer_vm_state")
                .help("The VM's state on this peer: 1 for the current one.")
                .labelNames("state")
                .callback(cb -> {
                    Peer p = peer.get();
                    String now = p == null ? "none" : p.vmState();
                    for (String s : VM_STATES) {
                        cb.call(s.equals(now) ? 1 : 0, s);
                    }
                })
                .register(registry);
        gauge("drafter_peer_migrating_to", "Whether a migration out is in progress.", () -> migratingTo.get() ? 1 : 0);
        gauge(
                "drafter_peer_migrating_from",
                "Whether a migration in is in progress.",
                () -> migratingFrom.get() ? 1 : 0);
        gauge("drafter_peer_resume_seconds", "Duration of the last resume.", () -> {
            Peer p = peer.get();
            return p == null ? 0 : seconds(p.lastResume());
        });
    }

    private void registerDeviceMetrics() {
        deviceCounter("drafter_device_reads", "Reads served, per device.", DeviceStack.Counters::reads);
        deviceCounter("drafter_device_read_bytes", "Bytes read, per device.", DeviceStack.Counters::readBytes);
        deviceCounter("drafter_device_writes", "Writes served, per device.", DeviceStack.Counters::writes);
        deviceCounter("drafter_device_write_bytes", "Bytes written, per device.", DeviceStack.Counters::writeBytes);
        deviceCounter("drafter_device_flushes", "Flushes, per device.", DeviceStack.Counters::flushes);
        deviceCounter("drafter_device_errors", "I/O errors, per device.", DeviceStack.Counters::errors);
        GaugeWithCallback.builder()
                .name("drafter_device_dirty_blocks")
                .help("Blocks dirty since the last collection, per device.")
                .labelNames("device")
                .callback(
                        cb -> stacks().forEach((name, s) -> cb.call(s.counters().dirtyBlocks(), name)))
                .register(registry);
        SummaryWithCallback.builder()
                .name("drafter_device_postcopy_wait_seconds")
                .help("Reads that waited for a block still on its way (post-copy), and their total wait, per"
                        + " device.")
                .labelNames("device")
                .callback(cb -> stacks().forEach((name, s) -> {
                    DeviceStack.Counters c = s.counters();
                    cb.call(c.waits(), c.waitNs() / 1e9, Quantiles.EMPTY, name);
                }))
                .register(registry);
    }

    private void registerMigrationTotals() {
        migrationCounter(
                "drafter_migration_bytes",
                "Bytes of migrations on the connection, framing included, per direction.",
                0,
                DestinationCounters::bytesReceived);
        migrationCounter(
                "drafter_migration_blocks",
                "Blocks of data sent or applied by migrations, per direction.",
                1,
                DestinationCounters::blocksReceived);
        migrationCounter(
                "drafter_migration_zero_blocks",
                "All-zero blocks announced instead of sent, per direction.",
                2,
                DestinationCounters::zeroBlocks);
        GaugeWithCallback.builder()
                .name("drafter_migration_in_device_blocks_present")
                .help("Blocks of each device of the migration in that are here.")
                .labelNames("device")
                .callback(cb -> inBlocks.forEach((d, v) -> cb.call(v[0], d)))
                .register(registry);
        GaugeWithCallback.builder()
                .name("drafter_migration_in_device_blocks")
                .help("Blocks of each device of the migration in.")
                .labelNames("device")
                .callback(cb -> inBlocks.forEach((d, v) -> cb.call(v[1], d)))
                .register(registry);
        GaugeWithCallback.builder()
                .name("drafter_migration_authority")
                .help("Who owns the VM's devices in the latest migration of each direction: 1 for the current one.")
                .labelNames("direction", "authority")
                .callback(cb -> {
                    MigrationSource out = latestOut();
                    if (out != null) {
                        each(cb, OUT, out.authority());
                    }
                    MigrationDestination in = incoming();
                    if (in != null) {
                        each(cb, IN, in.authority());
                    }
                })
                .register(registry);
        GaugeWithCallback.builder()
                .name("drafter_migration_phase")
                .help("The phase of the latest migration of each direction: 1 for the current one.")
                .labelNames("direction", "phase")
                .callback(cb -> {
                    MigrationSource out = latestOut();
                    if (out != null) {
                        cb.call(1, OUT, name(out.phase()));
                    }
                    MigrationDestination in = incoming();
                    String inNow = in != null ? name(in.phase()) : inPhase;
                    if (inNow != null) {
                        cb.call(1, IN, inNow);
                    }
                })
                .register(registry);
    }

    private static void each(GaugeWithCallback.Callback cb, String direction, Authority now) {
        for (Authority a : Authority.values()) {
            cb.call(a == now ? 1 : 0, direction, name(a));
        }
    }

    private void gauge(String name, String help, java.util.function.DoubleSupplier value) {
        GaugeWithCallback.builder()
                .name(name)
                .help(help)
                .callback(cb -> cb.call(value.getAsDouble()))
                .register(registry);
    }

    private void deviceCounter(String name, String help, ToLongFunction<DeviceStack.Counters> value) {
        CounterWithCallback.builder()
                .name(name)
                .help(help)
                .labelNames("device")
                .callback(cb -> stacks().forEach((d, s) -> cb.call(value.applyAsLong(s.counters()), d)))
                .register(registry);
    }

    private void registerMigrationPerDevice() {
        deviceMigrationCounter(
                "drafter_migration_device_blocks",
                "Blocks of data sent or applied by migrations, per device and direction.",
                0,
                DeviceTraffic::blocks);
        deviceMigrationCounter(
                "drafter_migration_device_zero_blocks",
                "All-zero blocks announced instead of sent, per device and direction.",
                1,
                DeviceTraffic::zeroBlocks);
        deviceMigrationCounter(
                "drafter_migration_device_data_bytes",
                "Bytes of block data on the link (after compression; framing not included), per device and direction.",
                2,
                DeviceTraffic::dataBytes);
    }

    private void deviceMigrationCounter(String name, String help, int outIndex, ToLongFunction<DeviceTraffic> in) {
        CounterWithCallback.builder()
                .name(name)
                .help(help)
                .labelNames("device", "direction")
                .callback(cb -> {
                    outPerDevice().forEach((device, v) -> cb.call(v[outIndex], device, OUT));
                    MigrationDestination d = incoming();
                    if (d != null) {
                        d.counters().perDevice().forEach((device, v) -> cb.call(in.applyAsLong(v), device, IN));
                    }
                })
                .register(registry);
    }

    /** Per device, blocks, zero blocks and data bytes of the ended migrations out, plus the latest one's now. */
    private synchronized Map<String, long[]> outPerDevice() {
        MigrationSource now = latestOut();
        Map<String, long[]> sums = new LinkedHashMap<>();
        endedOutPerDevice.forEach((d, v) -> sums.put(d, v.clone()));
        if (now != null) {
            addPerDevice(sums, now.counters().perDevice());
        }
        return sums;
    }

    private static void addPerDevice(Map<String, long[]> sums, Map<String, DeviceTraffic> traffic) {
        traffic.forEach((d, v) -> {
            long[] s = sums.computeIfAbsent(d, _ -> new long[3]);
            s[0] += v.blocks();
            s[1] += v.zeroBlocks();
            s[2] += v.dataBytes();
        });
    }

    private void migrationCounter(String name, String help, int outIndex, ToLongFunction<DestinationCounters> in) {
        CounterWithCallback.builder()
                .name(name)
                .help(help)
                .labelNames("direction")
                .callback(cb -> {
                    cb.call(outTotals()[outIndex], OUT);
                    MigrationDestination d = incoming();
                    cb.call(d == null ? 0 : in.applyAsLong(d.counters()), IN);
                })
                .register(registry);
    }

    /** Bytes, blocks and zero blocks of the ended migrations out, plus the latest one's now. */
    private synchronized long[] outTotals() {
        MigrationSource now = latestOut();
        long[] t = {endedOutBytes, endedOutBlocks, endedOutZeroBlocks};
        if (now != null) {
            SourceCounters c = now.counters();
            t[0] += c.bytesSent();
            t[1] += c.blocksSent();
            t[2] += c.zeroBlocks();
        }
        return t;
    }

    /** The latest migration out; when a new one started, the one before is added to the ended sums first. */
    private synchronized MigrationSource latestOut() {
        Peer p = peer.get();
        MigrationSource now = p == null ? null : p.outgoing();
        if (now != latestOut) {
            if (latestOut != null) {
                SourceCounters c = latestOut.counters();
                endedOutBytes += c.bytesSent();
                endedOutBlocks += c.blocksSent();
                endedOutZeroBlocks += c.zeroBlocks();
                addPerDevice(endedOutPerDevice, c.perDevice());
            }
            latestOut = now;
        }
        return now;
    }

    private MigrationDestination incoming() {
        Peer p = peer.get();
        return p == null ? null : p.incoming();
    }

    private Map<String, DeviceStack> stacks() {
        Peer p = peer.get();
        return p == null ? Map.of() : p.stacks();
    }

    private static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }

    private static String name(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    /** Starts reporting {@code p}'s VM, devices and migrations. */
    public void attach(Peer p) {
        peer.set(p);
    }

    public void migratingTo(boolean on) {
        migratingTo.set(on);
    }

    public void migratingFrom(boolean on) {
        migratingFrom.set(on);
    }

    /** Hears migrations out: phases, dirty rounds, post-copy requests. */
    public SourceListener outListener() {
        if (!enabled) {
            return SourceListener.NONE;
        }
        return new SourceListener() {
            @Override
            public void onPhase(SourcePhase from, SourcePhase to, Duration timeInFrom) {
                long paused = to == SourcePhase.SUSPENDING || to == SourcePhase.GRANTED ? vmPausedAt.getAsLong() : 0;
                long now = System.nanoTime();
                phaseSeconds.labelValues(OUT, name(from)).observe(seconds(timeInFrom));
                if (to == SourcePhase.SUSPENDING) {
                    suspendedAtNs = now;
                    pausedBeforeSuspend = paused;
                } else if (to == SourcePhase.GRANTED && suspendedAtNs != 0) {
                    // SUSPENDING begins with the agent's BeforeSuspend and a last round with the VM running: the
                    // window starts at the pause. Without one (no VM paused), at the suspend.
                    long start = paused != pausedBeforeSuspend ? paused : suspendedAtNs;
                    pausedSeconds.observe((now - start) / 1e9);
                    suspendedAtNs = 0;
                } else if (to == SourcePhase.COMPLETED) {
                    migrations.labelValues(OUT, "completed").inc();
                } else if (to == SourcePhase.FAILED) {
                    suspendedAtNs = 0;
                    migrations.labelValues(OUT, "failed").inc();
                }
            }

            @Override
            public void onDirtyRound(String device, int round, int blocks, boolean last) {
                dirtyRounds.labelValues(device).inc();
                dirtyBlocks.labelValues(device).inc(blocks);
            }

            @Override
            public void onPriorityRequest(String device, long block) {
                postcopyRequests.labelValues(OUT, device).inc();
            }
        };
    }

    /** Hears the migration in: phases, per-device progress, post-copy requests. */
    public DestinationListener inListener() {
        if (!enabled) {
            return DestinationListener.NONE;
        }
        return new DestinationListener() {
            @Override
            public void onPhase(DestinationPhase from, DestinationPhase to, Duration timeInFrom) {
                phaseSeconds.labelValues(IN, name(from)).observe(seconds(timeInFrom));
                inPhase = name(to);
                if (to == DestinationPhase.COMPLETED) {
                    migrations.labelValues(IN, "completed").inc();
                } else if (to == DestinationPhase.FAILED) {
                    migrations.labelValues(IN, "failed").inc();
                }
            }

            @Override
            public void onProgress(String device, long present, long total) {
                inBlocks.put(device, new long[] {present, total});
            }

            @Override
            public void onMissingBlock(String device, long block) {
                postcopyRequests.labelValues(IN, device).inc();
            }
        };
    }

    /** The metrics now, in Prometheus' text format. */
    public String render() {
        if (!enabled) {
            return "";
        }
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(b, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return b.toString(StandardCharsets.UTF_8);
    }

    /** Serves {@code /metrics} on {@code address} until the returned server is closed. */
    public Server serve(InetSocketAddress address) throws IOException {
        if (!enabled) {
            throw new IllegalStateException("these metrics are disabled: make them with new PeerMetrics()");
        }
        try {
            HTTPServer http = HTTPServer.builder()
                    .inetAddress(address.getAddress())
                    .port(address.getPort())
                    .registry(registry)
                    .buildAndStart();
            return new Server(http);
        } catch (IOException e) {
            throw new IOException("could not serve metrics on " + address + ": " + e.getMessage(), e);
        }
    }

    /** A running metrics endpoint. The Prometheus server inside stays inside: callers only see its port. */
    public static final class Server implements AutoCloseable {
        private final HTTPServer http;

        private Server(HTTPServer http) {
            this.http = http;
        }

        /** The bound port. */
        public int port() {
            return http.getPort();
        }

        @Override
        public void close() {
            http.close();
        }
    }
}
