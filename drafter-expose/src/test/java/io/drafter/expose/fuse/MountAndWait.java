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
        DeviceMount mount = DeviceMount.mount(Path.of(args[0]), Map.of("disk", disk));
        System.out.println("mounted");
        System.out.flush();
        // Each line on stdin prints the request counts so far (opcode=count), for trying the mount by hand.
        var in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
        while (in.readLine() != null) {
            StringBuilder b = new StringBuilder();
            for (int op = 0; op < 64; op++) {
                if (mount.requests(op) > 0) {
                    b.append(op).append('=').append(mount.requests(op)).append(' ');
                }
            }
            System.out.println(b.toString().trim());
        }
        Thread.sleep(Long.MAX_VALUE); // stdin closed: serve the mount until killed
    }
}
