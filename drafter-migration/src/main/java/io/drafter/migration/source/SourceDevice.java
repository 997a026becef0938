package io.drafter.migration.source;

import io.drafter.storage.dirty.DirtyTrackingDevice;
import io.drafter.storage.volatility.VolatilityMonitor;

/**
 * One device to migrate away: its name, the device through its dirty-tracking layer ({@code tracked}, which every
 * write of the running VM passes through: the engine reads the data through it and collects its dirty set), an
 * optional volatility monitor that orders the full copy least-volatile first, and its convergence policy.
 *
 * @param volatility may be {@code null}: the full copy then goes in block order
 */
public record SourceDevice(String name, DirtyTrackingDevice tracked, VolatilityMonitor volatility, DirtyPolicy policy) {
    public SourceDevice {
        java.util.Objects.requireNonNull(name, "name");
        java.util.Objects.requireNonNull(tracked, "tracked");
        java.util.Objects.requireNonNull(policy, "policy");
    }

    /** A device without volatility ordering and with Drafter's default policy. */
    public static SourceDevice of(String name, DirtyTrackingDevice tracked) {
        return new SourceDevice(name, tracked, null, DirtyPolicy.DRAFTER_DEFAULTS);
    }
}
