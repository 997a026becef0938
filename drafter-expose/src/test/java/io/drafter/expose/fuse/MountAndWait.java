package io.drafter.expose.fuse;

import io.drafter.linux.fuse.FuseAbi;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import io.drafter.storage.waiting.WaitingDevice;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Map;

/**
 * A process that mounts one memory device at {@code args[0]} (of {@code args[1]} MiB, default 1; with {@code args[2]}
 * {@code stuck-read}, one whose reads wait for good, which a thread of its own is reading), says "mounted" and
 * waits to be killed (the crash test; also handy for trying the mount by hand).
 */
public final class MountAndWait {
    private MountAndWait() {}

    public static void main(String[] args) throws Exception {
        long mib = args.length > 1 ? Long.parseLong(args[1]) : 1;
        boolean stuck = args.length > 2 && args[2].equals("stuck-read");
        MemoryBlockDevice memory = new MemoryBlockDevice("disk", mib << 20, 4096);
        // stuck-read: no block is ever present, and a thread of this process reads its own mount, so that the read
        // waits in the server when the process is killed (as a peer's own flush of guest RAM can).
        BlockDevice disk = stuck ? new WaitingDevice(memory, false, null) : memory;
        DeviceMount mount = DeviceMount.mount(Path.of(args[0]), Map.of("disk", disk));
        if (stuck) {
            Thread.ofPlatform().start(() -> {
                try (FileChannel ch = FileChannel.open(mount.file("disk"))) {
                    ch.read(ByteBuffer.allocate(4096), 0);
                } catch (IOException e) {
                    // the connection was aborted
                }
            });
            while (mount.requests(FuseAbi.READ) == 0) {
                Thread.sleep(10);
            }
        }
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
