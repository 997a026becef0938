package io.drafter.migration.destination;

import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Where the destination puts incoming devices: it checks that the whole group fits, opens (or creates) the storage for
 * each device the source announces, and discards it when a migration fails before the grant.
 *
 * <p><b>Note:</b> called on the destination's control thread.
 */
public interface DestinationStorage {
    /** Storage opened for one device; {@code zeroFilled} says every byte reads as zero now (zero blocks need no write). */
    record Opened(BlockDevice device, boolean zeroFilled) {}

    /**
     * Checks, before any device is opened and any data moves, that this destination can take the whole group (e.g.
     * that its file system has room for every device; preallocate where that is cheap). Called once, before {@link
     * #open}. An {@link IOException} refuses the group: the source is told with {@link ErrorCode#STORAGE_ERROR} and
     * the message (a {@link ProtocolException} keeps its own code), and keeps running. Default: accepts everything.
     */
    default void prepare(List<DeviceSpec> devices) throws IOException {}

    /**
     * Opens storage for {@code spec}.
     *
     * @throws ProtocolException with {@link ErrorCode#DEVICE_MISMATCH} if this destination cannot take that device
     */
    Opened open(DeviceSpec spec) throws IOException;

    /** Throws away a partial copy after a failure before the grant. Default: closes the device. */
    default void discard(DeviceSpec spec, BlockDevice device) throws IOException {
        device.close();
    }

    /** Fresh zero-filled memory devices of whatever the source announces. */
    static DestinationStorage inMemory() {
        return spec -> new Opened(new MemoryBlockDevice(spec.name(), spec.sizeBytes(), spec.blockSizeBytes()), true);
    }

    /**
     * Exactly these devices, by name: the source must announce the same names, sizes and block sizes.
     *
     * @param zeroFilled whether the given devices read as all zeros now
     */
    static DestinationStorage expecting(Map<String, BlockDevice> devices, boolean zeroFilled) {
        return spec -> {
            BlockDevice d = devices.get(spec.name());
            if (d == null) {
                throw new ProtocolException(
                        ErrorCode.DEVICE_MISMATCH,
                        "device \"" + spec.name() + "\" is not expected here (expected " + devices.keySet() + ")");
            }
            if (d.sizeBytes() != spec.sizeBytes() || d.blockSizeBytes() != spec.blockSizeBytes()) {
                throw new ProtocolException(
                        ErrorCode.DEVICE_MISMATCH,
                        "device \"" + spec.name() + "\" has " + d.sizeBytes() + " bytes in blocks of "
                                + d.blockSizeBytes() + " here, the source sends " + spec.sizeBytes()
                                + " bytes in blocks of " + spec.blockSizeBytes());
            }
            return new Opened(d, zeroFilled);
        };
    }
}
