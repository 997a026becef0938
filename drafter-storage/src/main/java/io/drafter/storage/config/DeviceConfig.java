package io.drafter.storage.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * One entry of Drafter's {@code --devices} JSON, with Drafter's defaults filled in.
 *
 * <p>Which fields matter depends on the command: {@code drafter peer} uses {@code base}, {@code overlays}/{@code
 * states} and the migration knobs; {@code drafter snapshotter} uses {@code input}/{@code output}; {@code drafter
 * packager} uses {@code path}. {@link DeviceConfigParser} checks that the fields a command needs are present.
 *
 * @param name the device name: a file name in the instance mount and the entry name in a package
 * @param base read-only base file (or the only file when there is no overlay)
 * @param overlays copy-on-write overlay files, bottom first (Drafter's space-separated {@code overlay})
 * @param states the state file of each overlay, same order (Drafter's space-separated {@code state})
 * @param blockSizeBytes migration and tracking block size, a power of two (default 65536)
 * @param expiry Drafter's volatility expiry (accepted for compatibility)
 * @param maxDirtyBlocks a pre-copy round with fewer dirty blocks than this counts toward readiness (default 200)
 * @param minCycles rounds below {@code maxDirtyBlocks} needed before suspending (default 5)
 * @param maxCycles rounds after which the device is ready regardless (default 20)
 * @param cycleThrottle pause between pre-copy rounds (default 500 ms)
 * @param makeMigratable whether the device is migrated at all (default true)
 * @param shared the base is shared storage, exposed as is and never migrated (default false)
 * @param sharedBase the destination holds an identical base, so only overlay blocks are sent (default false)
 * @param input snapshotter: file copied in before boot
 * @param output snapshotter: where the device's final file is written
 * @param path packager: the file packed into or extracted from the package
 */
public record DeviceConfig(
        String name,
        Optional<Path> base,
        List<Path> overlays,
        List<Path> states,
        int blockSizeBytes,
        Duration expiry,
        long maxDirtyBlocks,
        int minCycles,
        int maxCycles,
        Duration cycleThrottle,
        boolean makeMigratable,
        boolean shared,
        boolean sharedBase,
        Optional<Path> input,
        Optional<Path> output,
        Optional<Path> path) {

    public static final int DEFAULT_BLOCK_SIZE_BYTES = 65536;
    public static final Duration DEFAULT_EXPIRY = Duration.ofSeconds(1);
    public static final long DEFAULT_MAX_DIRTY_BLOCKS = 200;
    public static final int DEFAULT_MIN_CYCLES = 5;
    public static final int DEFAULT_MAX_CYCLES = 20;
    public static final Duration DEFAULT_CYCLE_THROTTLE = Duration.ofMillis(500);

    public DeviceConfig {
        overlays = List.copyOf(overlays);
        states = List.copyOf(states);
    }

    /** Whether the device has at least one copy-on-write overlay. */
    public boolean copyOnWrite() {
        return !overlays.isEmpty();
    }

    /**
     * The file that takes the device's writes: its top overlay, or its base when it has no overlay.
     *
     * @throws java.util.NoSuchElementException if it has neither
     */
    public Path writtenFile() {
        return overlays.isEmpty() ? base.orElseThrow() : overlays.getLast();
    }

    /** Whether the device takes part in migration: {@code makeMigratable} and not {@code shared}. */
    public boolean migrated() {
        return makeMigratable && !shared;
    }
}
