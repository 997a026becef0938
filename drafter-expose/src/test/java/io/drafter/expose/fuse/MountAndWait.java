package io.drafter.expose.fuse;

import io.drafter.storage.source.MemoryBlockDevice;
import java.nio.file.Path;
import java.util.Map;

/** A process that mounts one device at {@code args[0]}, says "mounted" and waits to be killed (the crash test). */
public final class MountAndWait {
    private MountAndWait() {}

    public static void main(String[] args) throws Exception {
        MemoryBlockDevice disk = new MemoryBlockDevice("disk", 1 << 20, 4096);
        DeviceMount.mount(Path.of(args[0]), Map.of("disk", disk));
        System.out.println("mounted");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
