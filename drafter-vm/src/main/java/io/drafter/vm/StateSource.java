package io.drafter.vm;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Device state for {@link VmInstance#loadState(StateSource)}, read by offset: a state device, or a state file. QEMU
 * reads its stream from offset 0 and ignores what follows the stream's end (a device's zero padding).
 *
 * @param size how many bytes may be read: the stream and any padding after it
 * @param reader reads them, as a block device's or a file channel's positional read does
 */
public record StateSource(long size, Reader reader) {
    /** A positional read: into {@code dst} from {@code offset}, returning the bytes read, or -1 at the end. */
    @FunctionalInterface
    public interface Reader {
        int read(ByteBuffer dst, long offset) throws IOException;
    }

    /** Reads into {@code dst} from {@code offset}; returns the bytes read, or -1 at the end. */
    public int read(ByteBuffer dst, long offset) throws IOException {
        return reader.read(dst, offset);
    }
}
