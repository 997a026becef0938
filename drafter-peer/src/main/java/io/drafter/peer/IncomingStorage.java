package io.drafter.peer;

import io.drafter.migration.destination.DestinationStorage;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.DeviceStack;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.source.FileBlockDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The storage of devices migrating in to a peer or a mounter, from their {@code --devices} entries: each device the
 * source announces must be configured with the same block size; the files to create must fit on disk (those of
 * {@code reserved} devices are created and their blocks reserved up front, see {@link SpacePlan}); a missing base is
 * created, an existing one must have the source's size; overlays and states go on top as configured.
 *
 * <p><b>Note:</b> the engine calls it from its own threads; it holds {@code lock} (the owner's) while it opens a device
 * and notes files, and tells the owner through {@link Created} of every file it is about to create.
 */
final class IncomingStorage implements DestinationStorage {
    /** Hears of a file about to be created for a device migrating in, so that a start that fails removes it. */
    @FunctionalInterface
    interface Created {
        void note(Path file) throws IOException;
    }

    private final List<DeviceConfig> devices;
    private final Function<String, String> notConfigured;
    private final Predicate<String> reserved;
    private final Created created;
    private final Object lock;
    private final Map<String, DeviceConfig> opened = new LinkedHashMap<>();
    /** Bases that {@link #prepare} created (all zeros still). */
    private final Set<Path> prepared = new HashSet<>();

    /**
     * @param devices the configured devices ({@code --devices})
     * @param notConfigured the message for a device the source sends that {@code devices} lacks, from its name
     * @param reserved the devices whose new files are created and reserved in full before any data arrives (guest RAM)
     * @param created hears of each file about to be created
     * @param lock the owner's lock, held while a device is opened
     */
    IncomingStorage(
            List<DeviceConfig> devices,
            Function<String, String> notConfigured,
            Predicate<String> reserved,
            Created created,
            Object lock) {
        this.devices = List.copyOf(devices);
        this.notConfigured = notConfigured;
        this.reserved = reserved;
        this.created = created;
        this.lock = lock;
    }

    /** The configuration a device migrating in was opened with, or {@code null}. */
    DeviceConfig config(String name) {
        synchronized (lock) {
            return opened.get(name);
        }
    }

    @Override
    public void prepare(List<DeviceSpec> specs) throws IOException {
        List<SpacePlan.NewFile> files = new ArrayList<>();
        for (DeviceSpec spec : specs) {
            DeviceConfig d = configFor(spec);
            boolean ram = reserved.test(spec.name());
            Path base = d.base().orElseThrow();
            if (!Files.exists(base)) {
                files.add(new SpacePlan.NewFile(spec.name(), base, spec.sizeBytes(), ram && !d.copyOnWrite()));
            }
            for (int i = 0; i < d.overlays().size(); i++) {
                Path o = d.overlays().get(i);
                if (!Files.exists(o)) {
                    boolean top = i == d.overlays().size() - 1;
                    files.add(new SpacePlan.NewFile(spec.name(), o, spec.sizeBytes(), ram && top));
                }
            }
        }
        SpacePlan.check(files);
        for (SpacePlan.NewFile f : files) {
            if (f.reserve()) {
                Files.createDirectories(f.path().toAbsolutePath().getParent());
                synchronized (lock) {
                    created.note(f.path());
                    prepared.add(f.path());
                }
                FileBlockDevice.create(
                                f.path(),
                                f.sizeBytes(),
                                configFor(specNamed(specs, f.device())).blockSizeBytes())
                        .close();
                SpacePlan.reserve(f);
            }
        }
    }

    @Override
    public Opened open(DeviceSpec spec) throws IOException {
        DeviceConfig d = configFor(spec);
        Path base = d.base().orElseThrow();
        boolean zero = false;
        synchronized (lock) {
            if (!Files.exists(base)) {
                created.note(base);
                Files.createDirectories(base.toAbsolutePath().getParent());
                zero = !d.copyOnWrite();
            } else if (Files.size(base) != spec.sizeBytes()) {
                throw new ProtocolException(
                        ErrorCode.DEVICE_MISMATCH,
                        "device \"" + spec.name() + "\": base " + base + " holds " + Files.size(base)
                                + " bytes, the source sends " + spec.sizeBytes());
            } else if (prepared.contains(base)) {
                zero = !d.copyOnWrite(); // created (and reserved) by prepare: all zeros still
            }
            noteNewOverlays(d, created);
            opened.put(spec.name(), d);
        }
        return new Opened(DeviceStack.openStorage(d, true, spec.sizeBytes()), zero);
    }

    @Override
    public void discard(DeviceSpec spec, BlockDevice device) throws IOException {
        device.close();
    }

    /** Notes the overlay and state files of {@code d} that do not exist yet: opening the stack creates them. */
    static void noteNewOverlays(DeviceConfig d, Created created) throws IOException {
        for (int i = 0; i < d.overlays().size(); i++) {
            for (Path f : List.of(d.overlays().get(i), d.states().get(i))) {
                if (!Files.exists(f)) {
                    created.note(f);
                }
            }
        }
    }

    private DeviceConfig configFor(DeviceSpec spec) throws ProtocolException {
        DeviceConfig d = devices.stream()
                .filter(c -> c.name().equals(spec.name()))
                .findFirst()
                .orElse(null);
        if (d == null) {
            throw new ProtocolException(ErrorCode.DEVICE_MISMATCH, notConfigured.apply(spec.name()));
        }
        if (d.blockSizeBytes() != spec.blockSizeBytes()) {
            throw new ProtocolException(
                    ErrorCode.DEVICE_MISMATCH,
                    "device \"" + spec.name() + "\" has blocks of " + d.blockSizeBytes() + " bytes here, the source"
                            + " sends " + spec.blockSizeBytes());
        }
        return d;
    }

    private static DeviceSpec specNamed(List<DeviceSpec> specs, String name) {
        return specs.stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
    }
}
