package io.drafter.storage;

import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.cow.CopyOnWriteDevice;
import io.drafter.storage.dirty.DirtyTrackingDevice;
import io.drafter.storage.metrics.MetricsDevice;
import io.drafter.storage.source.FileBlockDevice;
import io.drafter.storage.volatility.VolatilityMonitor;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The layers a peer stacks on one device, built from its {@link DeviceConfig}:
 *
 * <pre>
 * base file ◄ overlay 1 (+state) ◄ … ◄ overlay n (+state) ◄ [waiting, when migrating in] ◄ metrics ◄ dirty ◄ volatility
 * </pre>
 *
 * Without overlays, writes go to the base file itself. {@link #top()} is what the VM reads and writes (through the
 * exposure); the migration engine reads through {@link #top()} too and uses {@link #dirty()}, {@link #volatility()}
 * and {@link #waiting()}.
 *
 * <p><b>Note:</b> thread-safe as its layers are; {@link #close()} flushes and closes every layer once.
 */
public final class DeviceStack implements AutoCloseable {
    /** A snapshot of a device's counters. */
    public record Counters(
            long reads,
            long readBytes,
            long writes,
            long writeBytes,
            long flushes,
            long errors,
            long dirtyBlocks,
            long dirtyMarksTotal,
            long waits,
            long waitNs) {}

    /** The window the volatility monitor counts writes over (Silo's fixed 30 minutes). */
    public static final Duration VOLATILITY_WINDOW = Duration.ofMinutes(30);

    private final DeviceConfig config;
    private final Optional<WaitingDevice> waiting;
    private final MetricsDevice metrics;
    private final DirtyTrackingDevice dirty;
    private final VolatilityMonitor volatility;

    private DeviceStack(DeviceConfig config, BlockDevice storage, Optional<WaitingDevice> waiting) {
        this.config = config;
        this.waiting = waiting;
        this.metrics = new MetricsDevice(waiting.<BlockDevice>map(w -> w).orElse(storage));
        this.dirty = new DirtyTrackingDevice(metrics);
        this.volatility = new VolatilityMonitor(dirty, VOLATILITY_WINDOW);
    }

    /**
     * Opens the device's files as configured. With {@code incoming}, every block starts missing and reads wait until
     * {@link WaitingDevice#supply} delivers it (the destination of a migration); {@code listener} hears which blocks
     * readers wait for.
     *
     * @param sizeBytes the size when the base file must be created (migrating in); ignored for an existing base
     */
    public static DeviceStack open(
            DeviceConfig config, boolean incoming, long sizeBytes, WaitingDevice.MissingBlockListener listener)
            throws IOException {
        BlockDevice storage = openStorage(config, incoming, sizeBytes);
        Optional<WaitingDevice> waiting =
                incoming ? Optional.of(new WaitingDevice(storage, false, listener)) : Optional.empty();
        return new DeviceStack(config, storage, waiting);
    }

    /**
     * The stack of a device migrating in, over the post-copy gate that the migration engine built on {@link
     * #openStorage} and feeds: the engine's blocks land below the metrics, dirty tracking and volatility layers (they
     * are not guest writes), the VM reads and writes through {@link #top()}. Closing the stack closes {@code waiting}
     * and the storage under it.
     */
    public static DeviceStack over(DeviceConfig config, WaitingDevice waiting) {
        return new DeviceStack(config, waiting, Optional.of(waiting));
    }

    /**
     * Opens the device's files (base, then each overlay with its state) without the upper layers; with {@code create},
     * a missing base is created sparse with {@code sizeBytes}.
     */
    public static BlockDevice openStorage(DeviceConfig config, boolean create, long sizeBytes) throws IOException {
        boolean incoming = create;
        Path base = config.base()
                .orElseThrow(() -> new IOException("could not open device \"" + config.name() + "\": it has no base"));
        int bs = config.blockSizeBytes();
        BlockDevice storage;
        if (!Files.exists(base) && incoming) {
            storage = FileBlockDevice.create(base, sizeBytes, bs);
        } else {
            storage = FileBlockDevice.open(base, bs, !config.copyOnWrite());
        }
        try {
            for (int i = 0; i < config.overlays().size(); i++) {
                for (Path p : List.of(config.overlays().get(i), config.states().get(i))) {
                    Path parent = p.toAbsolutePath().getParent();
                    if (parent != null) {
                        Files.createDirectories(parent);
                    }
                }
                BlockDevice overlay = FileBlockDevice.create(config.overlays().get(i), storage.sizeBytes(), bs);
                storage =
                        CopyOnWriteDevice.open(storage, overlay, config.states().get(i));
            }
        } catch (IOException | RuntimeException e) {
            storage.close();
            throw new IOException("could not open device \"" + config.name() + "\": " + e.getMessage(), e);
        }
        return storage;
    }

    /** The device's configuration. */
    public DeviceConfig config() {
        return config;
    }

    /** The top of the stack: what the VM and the migration engine read and write. */
    public BlockDevice top() {
        return volatility;
    }

    /** The dirty tracker (writes through {@link #top()} are recorded once tracking starts). */
    public DirtyTrackingDevice dirty() {
        return dirty;
    }

    /** The write-frequency monitor, for least-volatile-first ordering. */
    public VolatilityMonitor volatility() {
        return volatility;
    }

    /** The post-copy gate, present when the stack was opened as {@code incoming}. */
    public Optional<WaitingDevice> waiting() {
        return waiting;
    }

    /** The counters now. */
    public Counters counters() {
        MetricsDevice.Snapshot m = metrics.snapshot();
        return new Counters(
                m.reads(),
                m.readBytes(),
                m.writes(),
                m.writeBytes(),
                m.flushes(),
                m.errors(),
                dirty.dirtyBlockCount(),
                dirty.markedBlocksTotal(),
                waiting.map(WaitingDevice::waitCount).orElse(0L),
                waiting.map(WaitingDevice::waitNanos).orElse(0L));
    }

    /** Reads the whole device through the stack (a convenience for checks; the device must fit in memory). */
    public byte[] readAll() throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(top().sizeBytes()));
        top().read(buf, 0);
        return buf.array();
    }

    @Override
    public void close() throws IOException {
        volatility.close();
    }
}
