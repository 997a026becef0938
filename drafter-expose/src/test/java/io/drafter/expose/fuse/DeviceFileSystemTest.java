package io.drafter.expose.fuse;

import static io.drafter.linux.fuse.FuseAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.drafter.linux.Errno;
import io.drafter.storage.source.MemoryBlockDevice;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The opcode handlers on their own, fed request bodies as the kernel lays them out (no mount needed). */
class DeviceFileSystemTest {
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment in = arena.allocate(1 << 16, 8);
    private final MemorySegment out = arena.allocate(1 << 16, 8);
    private final MemoryBlockDevice disk = new MemoryBlockDevice("disk", 10_000, 4096);
    private final MemoryBlockDevice state = new MemoryBlockDevice("state", 4096, 4096);
    private static final int OWNER = 1000;
    private final DeviceFileSystem fs = new DeviceFileSystem(
            List.of("disk", "state"), List.of(disk, state), FuseOptions.defaults(), OWNER, OWNER + 1, 0);

    @AfterEach
    void close() {
        disk.close();
        state.close();
        arena.close();
    }

    @Test
    void initGrantsOnlyFlagsTheKernelOffersAndOurSizes() throws Exception {
        in.set(JAVA_INT, 0, 7);
        in.set(JAVA_INT, 4, 45);
        in.set(JAVA_INT, 8, 128 * 1024);
        in.set(JAVA_INT, 12, ASYNC_READ | MAX_PAGES | WRITEBACK_CACHE);
        assertEquals(INIT_OUT_BYTES, fs.handle(INIT, 0, 0, in, out));
        assertEquals(7, out.get(JAVA_INT, 0));
        assertEquals(KERNEL_MINOR_VERSION, out.get(JAVA_INT, 4));
        assertEquals(ASYNC_READ | MAX_PAGES, out.get(JAVA_INT, 12), "writeback cache is off by default");
        assertEquals(1 << 20, out.get(JAVA_INT, 20), "max_write");
        assertEquals(256, out.get(JAVA_SHORT, 28), "max_pages");
        in.set(JAVA_INT, 0, 8);
        assertEquals(-Errno.EPROTO, fs.handle(INIT, 0, 0, in, out));
    }

    @Test
    void filesAre0600AndTheRoot0700OwnedByTheOwnerAndOnlyRootTheOwnerAndTheMounterOpen() throws Exception {
        assertEquals(ATTR_OUT_BYTES, fs.handle(GETATTR, 2, 0, in, out));
        assertEquals(S_IFREG | 0600, out.get(JAVA_INT, 16 + 60));
        assertEquals(OWNER, out.get(JAVA_INT, 16 + 68), "uid");
        assertEquals(OWNER + 1, out.get(JAVA_INT, 16 + 72), "gid");
        assertEquals(ATTR_OUT_BYTES, fs.handle(GETATTR, ROOT_ID, 0, in, out));
        assertEquals(S_IFDIR | 0700, out.get(JAVA_INT, 16 + 60));
        assertEquals(OWNER, out.get(JAVA_INT, 16 + 68), "root directory uid");
        in.set(JAVA_INT, 0, 2); // O_RDWR
        assertEquals(OPEN_OUT_BYTES, fs.handle(OPEN, 2, 0, in, out), "root");
        assertEquals(OPEN_OUT_BYTES, fs.handle(OPEN, 2, OWNER, in, out), "the owner");
        assertEquals(-Errno.EACCES, fs.handle(OPEN, 2, 65534, in, out), "another user");
        assertEquals(-Errno.EACCES, fs.handle(OPEN, 3, OWNER + 1, in, out), "a user whose uid is the group's id");
    }

    @Test
    void directIoOnlyWhenTheKernelAllowsSharedMmapWithIt() throws Exception {
        in.set(JAVA_INT, 0, 7);
        in.set(JAVA_INT, 4, 38);
        in.set(JAVA_INT, 12, ASYNC_READ); // no INIT_EXT: no DIRECT_IO_ALLOW_MMAP
        fs.handle(INIT, 0, 0, in, out);
        assertEquals(OPEN_OUT_BYTES, fs.handle(OPEN, 2, 0, in, out));
        assertEquals(FOPEN_KEEP_CACHE, out.get(JAVA_INT, 8));
        in.set(JAVA_INT, 12, ASYNC_READ | INIT_EXT);
        in.set(JAVA_INT, 16, DIRECT_IO_ALLOW_MMAP2);
        fs.handle(INIT, 0, 0, in, out);
        assertEquals(INIT_EXT, out.get(JAVA_INT, 12) & INIT_EXT);
        assertEquals(DIRECT_IO_ALLOW_MMAP2, out.get(JAVA_INT, 32));
        fs.handle(OPEN, 2, 0, in, out);
        assertEquals(FOPEN_KEEP_CACHE | FOPEN_DIRECT_IO, out.get(JAVA_INT, 8));
    }

    @Test
    void lookupFindsDevicesBySizeAndRefusesOthers() throws Exception {
        name("state");
        assertEquals(ENTRY_OUT_BYTES, fs.handle(LOOKUP, ROOT_ID, 0, in, out));
        assertEquals(3, out.get(JAVA_LONG, 0), "node id");
        assertEquals(4096, out.get(JAVA_LONG, 40 + 8), "size");
        assertEquals(S_IFREG | 0600, out.get(JAVA_INT, 40 + 60));
        name("nope");
        assertEquals(-Errno.ENOENT, fs.handle(LOOKUP, ROOT_ID, 0, in, out));
        assertEquals(-Errno.ENOTDIR, fs.handle(LOOKUP, 2, 0, in, out));
    }

    @Test
    void unknownOpcodesAreEnosysAndForgetsGetNoReply() throws Exception {
        for (int opcode : new int[] {5, 9, 10, 12, 21, 22, 35, 43, 46, 47, 999}) {
            assertEquals(-Errno.ENOSYS, fs.handle(opcode, ROOT_ID, 0, in, out), "opcode " + opcode);
        }
        for (int opcode : new int[] {FORGET, BATCH_FORGET, INTERRUPT}) {
            assertEquals(DeviceFileSystem.NO_REPLY, fs.handle(opcode, 2, 0, in, out));
        }
    }

    @Test
    void setattrAllowsOnlyATruncateToTheSameSize() throws Exception {
        in.set(JAVA_INT, 0, FATTR_SIZE);
        in.set(JAVA_LONG, 16, 10_000);
        assertEquals(ATTR_OUT_BYTES, fs.handle(SETATTR, 2, 0, in, out));
        in.set(JAVA_LONG, 16, 0);
        assertEquals(-Errno.EINVAL, fs.handle(SETATTR, 2, 0, in, out));
        in.set(JAVA_INT, 0, FATTR_MODE);
        assertEquals(-Errno.EPERM, fs.handle(SETATTR, 2, 0, in, out));
    }

    @Test
    void readStopsAtTheEndOfTheDevice() throws Exception {
        byte[] tail = "the end".getBytes(StandardCharsets.US_ASCII);
        disk.write(ByteBuffer.wrap(tail), 10_000 - tail.length);
        in.set(JAVA_LONG, 8, 10_000 - tail.length);
        in.set(JAVA_INT, 16, 4096);
        assertEquals(tail.length, fs.handle(READ, 2, 0, in, out));
        assertEquals("the end", out.getString(0, StandardCharsets.US_ASCII).substring(0, 7));
        in.set(JAVA_LONG, 8, 20_000);
        assertEquals(0, fs.handle(READ, 2, 0, in, out));
    }

    @Test
    void readdirListsEveryEntryAcrossSmallBuffers() throws Exception {
        List<String> names = new ArrayList<>();
        long offset = 0;
        while (true) {
            in.set(JAVA_LONG, 8, offset);
            in.set(JAVA_INT, 16, 40); // room for one entry per call
            int n = fs.handle(READDIR, ROOT_ID, 0, in, out);
            if (n == 0) {
                break;
            }
            int len = out.get(JAVA_INT, 16);
            names.add(new String(
                    out.asSlice(24, len).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            offset = out.get(JAVA_LONG, 8);
        }
        assertEquals(List.of(".", "..", "disk", "state"), names);
    }

    private void name(String s) {
        in.setString(0, s, StandardCharsets.UTF_8);
    }

    // Found by FuseFuzzTest (its corpus holds the requests too): requests the kernel never sends are refused with
    // EINVAL instead of failing the handler (answered EIO, with a warning and a stack trace) or reaching the device.

    @Test
    void bodiesShorterThanTheOpcodesInputAreRefused() throws Exception {
        assertEquals(-Errno.EINVAL, fs.handle(INIT, 0, 0, in.asSlice(0, 12), out));
        assertEquals(-Errno.EINVAL, fs.handle(SETATTR, 2, 0, in.asSlice(0, 23), out));
        assertEquals(-Errno.EINVAL, fs.handle(READ, 2, 0, in.asSlice(0, 19), out));
        assertEquals(-Errno.EINVAL, fs.handle(READDIR, ROOT_ID, 0, in.asSlice(0, 0), out));
        assertEquals(-Errno.EINVAL, fs.handle(WRITE, 2, 0, in.asSlice(0, WRITE_IN_BYTES - 1), out));
        in.asSlice(0, 8).fill((byte) 'a');
        assertEquals(-Errno.EINVAL, fs.handle(LOOKUP, ROOT_ID, 0, in.asSlice(0, 8), out), "a name without its NUL");
        in.set(JAVA_INT, 0, 7);
        in.set(JAVA_INT, 12, INIT_EXT);
        assertEquals(INIT_OUT_BYTES, fs.handle(INIT, 0, 0, in.asSlice(0, 16), out), "a 7.35 INIT, without flags2");
    }

    @Test
    void offsetsPast2To63AndWritesLongerThanTheirDataAreRefused() throws Exception {
        in.set(JAVA_LONG, 8, -4096L);
        in.set(JAVA_INT, 16, 4096);
        assertEquals(-Errno.EINVAL, fs.handle(READ, 2, 0, in, out));
        assertEquals(-Errno.EINVAL, fs.handle(WRITE, 2, 0, in.asSlice(0, WRITE_IN_BYTES + 4096), out));
        in.set(JAVA_LONG, 8, 0L);
        assertEquals(-Errno.EINVAL, fs.handle(WRITE, 2, 0, in.asSlice(0, WRITE_IN_BYTES + 4095), out), "short data");
        in.set(JAVA_INT, 16, -1);
        assertEquals(-Errno.EINVAL, fs.handle(WRITE, 2, 0, in.asSlice(0, WRITE_IN_BYTES + 4096), out));
        in.set(JAVA_INT, 16, 4096);
        assertEquals(WRITE_OUT_BYTES, fs.handle(WRITE, 2, 0, in.asSlice(0, WRITE_IN_BYTES + 4096), out));
    }

    @Test
    void aRequestShorterThanItsHeaderIsRefused() throws Exception {
        in.set(JAVA_INT, IN_OPCODE, GETATTR);
        in.set(JAVA_LONG, IN_NODEID, ROOT_ID);
        assertEquals(-Errno.EINVAL, FuseServer.dispatch(fs, in, IN_HEADER_BYTES - 1, out));
        assertEquals(ATTR_OUT_BYTES, FuseServer.dispatch(fs, in, IN_HEADER_BYTES + 16, out));
    }
}
