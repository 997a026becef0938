package io.drafter.expose.fuse;

import io.drafter.storage.source.MemoryBlockDevice;
import java.nio.file.Path;
import java.util.Map;

/**
 * A process that mounts one memory device at {@code args[0]} (of {@code args[1]} MiB, default 1), says "mounted" and
 * waits to be killed (the crash test; also handy for trying the mount by hand).
 */
public final class MountAndWait {
    private MountAndWait() {}

    public static void main(String[] args) throws Exception {
        long mib = args.length > 1 ? Long.parseLong(args[1]) : 1;
        MemoryBlockDevice disk = new MemoryBlockDevice("disk", mib << 20, 4096);
        DeviceMount.mount(Path.of(args[0]), Map.of("disk", disk));
        System.out.println("mounted");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
