package io.drafter.vm;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Device state for {@link VmInstance#loadState(StateSource)}, read by offset: a state device, or a state file. QEMU
 * reads its stream from offset 0 and ignores what follows the stream's end (a device's zero padding).
 */
public interface StateSource {
    /** How many bytes may be read: the stream and any padding after it. */
    long size();

    /**
     * Reads into {@code dst} from {@code offset}.
     *
     * @return the bytes read, or -1 at the end
     */
    int read(ByteBuffer dst, long offset) throws IOException;
}
