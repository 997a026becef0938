package io.drafter.expose.fuse;

import static io.drafter.expose.fuse.FuseTestSupport.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.linux.MountTable;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Real FUSE mounts served by {@link DeviceMount}, used by other processes (python3, dd). */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DeviceMountTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path tmp;

    private Path dir;

    @BeforeEach
    void setUp() throws IOException {
        assumeFuse();
        dir = tmp.resolve("mnt");
    }

    @AfterEach
    void noMountsLeft() throws IOException {
        if (Files.exists(tmp)) {
            assertNoMountsUnder(tmp);
        }
    }

    @ParameterizedTest(name = "directIo={0}")
    @ValueSource(booleans = {true, false})
    void anotherProcessReadsAndWritesTheFilesByteForByte(boolean directIo) throws Exception {
        assumePython();
        try (MemoryBlockDevice disk = randomDevice("disk", 8 * MIB, 1);
                MemoryBlockDevice config = randomDevice("config", 5000, 2);
                DeviceMount mount = DeviceMount.mount(dir, devices("disk", disk, "config", config), mode(directIo))) {
            var listing = Processes.python(
                    "import os,sys\nfor n in sorted(os.listdir(sys.argv[1])): print(n, os.stat(os.path.join(sys.argv[1], n)).st_size)",
                    dir);
            assertEquals(0, listing.exit(), listing.output());
            assertEquals("config 5000\ndisk " + 8 * MIB + "\n", listing.output());

            String hash = "import hashlib,sys\nprint(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())";
            assertEquals(
                    sha256(contents(disk)) + "\n",
                    Processes.python(hash, mount.file("disk")).output());
            assertEquals(
                    sha256(contents(config)) + "\n",
                    Processes.python(hash, mount.file("config")).output());

            // dd writes 3 MiB at 1 MiB + 512 bytes through the mount; the device holds exactly those bytes.
            byte[] data = new byte[3 * MIB];
            new Random(3).nextBytes(data);
            Path src = tmp.resolve("src");
            Files.write(src, data);
            var dd = Processes.run(
                    60,
                    "dd",
                    "if=" + src,
                    "of=" + mount.file("disk"),
                    "bs=512",
                    "seek=" + (2048 + 1),
                    "conv=notrunc,fsync",
                    "status=none");
            assertEquals(0, dd.exit(), dd.output());
            assertArrayEquals(data, range(disk, MIB + 512, data.length));
            assertEquals(
                    sha256(contents(disk)) + "\n",
                    Processes.python(hash, mount.file("disk")).output());

            // Writing past the end of a device fails, a truncate to its own size is fine, any other is refused.
            var edge = Processes.python("""
                    import os,sys,errno
                    p,size=sys.argv[1],int(sys.argv[2])
                    os.truncate(p,size)
                    try:
                        os.truncate(p,size-1); print('shrunk')
                    except OSError as e: print(errno.errorcode[e.errno])
                    fd=os.open(p,os.O_WRONLY)
                    try:
                        os.pwrite(fd,b'x',size); print('grew')
                    except OSError as e: print(errno.errorcode[e.errno])
                    try:
                        os.mkdir(os.path.join(os.path.dirname(p),'sub')); print('mkdir')
                    except OSError as e: print(errno.errorcode[e.errno])
                    print(os.stat(p).st_size)
                    """, mount.file("config"), 5000);
            assertEquals("EINVAL\nENOSPC\nENOSYS\n5000\n", edge.output());
        }
    }

    @ParameterizedTest(name = "directIo={0}")
    @ValueSource(booleans = {true, false})
    void sharedWritableMappingWritesExactlyTheDirtiedBlocks(boolean directIo) throws Exception {
        assumePython();
        try (MemoryBlockDevice memory = randomDevice("memory", 16 * MIB, 4)) {
            var recording = new TestDevices.Recording(memory);
            try (DeviceMount mount = DeviceMount.mount(dir, devices("memory", recording), mode(directIo))) {
                long[] pages = {0, 3, 10, 11, 1000, 2047, 4095};
                var map = Processes.python("""
                        import mmap,os,sys
                        fd=os.open(sys.argv[1],os.O_RDWR)
                        m=mmap.mmap(fd,0,mmap.MAP_SHARED,mmap.PROT_READ|mmap.PROT_WRITE)
                        s=sum(m[i*4096] for i in range(len(m)//4096))   # fault every page in first
                        for p in map(int,sys.argv[2:]):
                            m[p*4096:p*4096+4096]=bytes([p%251])*4096
                        m.flush()
                        m.close(); os.close(fd); print('ok')
                        """, args(mount.file("memory"), pages));
                assertEquals("ok\n", map.output());
                Set<Long> expected = new TreeSet<>();
                for (long p : pages) {
                    expected.add(p);
                    byte[] want = new byte[4096];
                    java.util.Arrays.fill(want, (byte) (p % 251));
                    assertArrayEquals(want, range(memory, p * 4096, 4096), "page " + p);
                }
                assertEquals(expected, new TreeSet<>(recording.writtenBlocks));
            }
        }
    }

    @ParameterizedTest(name = "directIo={0}")
    @ValueSource(booleans = {true, false})
    void fsyncFromAnotherProcessFlushesEverythingTheMapperWrote(boolean directIo) throws Exception {
        assumePython();
        try (MemoryBlockDevice memory = new MemoryBlockDevice("memory", 32 * MIB, 4096)) {
            var recording = new TestDevices.Recording(memory);
            try (DeviceMount mount = DeviceMount.mount(dir, devices("memory", recording), mode(directIo))) {
                // The mapper dirties 3000 pages without msync and keeps its mapping; a second process fsyncs.
                Process mapper = Processes.start(Processes.pythonCommand("""
                        import mmap,os,sys,random
                        fd=os.open(sys.argv[1],os.O_RDWR)
                        m=mmap.mmap(fd,0,mmap.MAP_SHARED,mmap.PROT_READ|mmap.PROT_WRITE)
                        r=random.Random(7)
                        for p in r.sample(range(len(m)//4096),3000):
                            m[p*4096:p*4096+8]=(p+1).to_bytes(8,'little')
                        print('written',flush=True)
                        sys.stdin.readline()
                        """, mount.file("memory")));
                try {
                    String line = new String(mapper.getInputStream().readNBytes(8));
                    assertEquals("written\n", line);
                    var sync = Processes.python(
                            "import os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\nos.fsync(fd)\nprint('synced')",
                            mount.file("memory"));
                    assertEquals("synced\n", sync.output());
                    assertTrue(recording.flushes.get() >= 1, "fsync reached the device's flush");
                    var expected = Processes.python("""
                            import random
                            r=random.Random(7)
                            print(' '.join(map(str,sorted(r.sample(range(8192),3000)))))
                            """);
                    int missing = 0;
                    for (String s : expected.output().trim().split(" ")) {
                        long p = Long.parseLong(s);
                        long v = java.nio.ByteBuffer.wrap(range(memory, p * 4096, 8))
                                .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                                .getLong();
                        if (v != p + 1) {
                            missing++;
                        }
                    }
                    assertEquals(0, missing, "pages the mapper wrote but the device lacks after fsync");
                    assertEquals(3000, recording.writtenBlocks.size());
                } finally {
                    mapper.getOutputStream().close();
                    if (!mapper.waitFor(20, TimeUnit.SECONDS)) {
                        mapper.destroyForcibly().waitFor();
                    }
                }
            }
        }
    }

    @Test
    void readOfMissingBlockWaitsWhileOtherReadsProceed() throws Exception {
        assumePython();
        long gated = 5000; // 20 MiB in, far from the other reads and their readahead
        try (MemoryBlockDevice memory = randomDevice("memory", 32 * MIB, 5)) {
            var device = new TestDevices.Gated(memory, gated);
            // One serving thread to start with: the waiting READ must not hold up the others.
            try (DeviceMount mount = DeviceMount.mount(
                    dir, devices("memory", device), FuseOptions.defaults().withThreads(1, 16))) {
                String read = "import os,sys\nfd=os.open(sys.argv[1],os.O_RDONLY)\n"
                        + "sys.stdout.write(os.pread(fd,4096,int(sys.argv[2])).hex())";
                Process waiter = Processes.start(Processes.pythonCommand(read, mount.file("memory"), gated * 4096));
                try {
                    assertTrue(device.awaitWaiting(1), "the read of the gated block arrived");
                    for (long block : new long[] {0, 1, 100, 7000}) {
                        var other = Processes.python(read, mount.file("memory"), block * 4096);
                        assertEquals(hex(range(memory, block * 4096, 4096)), other.output(), "block " + block);
                    }
                    assertTrue(waiter.isAlive(), "the read of the missing block still waits");
                    device.supply();
                    assertTrue(waiter.waitFor(30, TimeUnit.SECONDS));
                    String got = new String(waiter.getInputStream().readAllBytes());
                    assertEquals(hex(range(memory, gated * 4096, 4096)), got);
                    assertTrue(mount.peakThreads() >= 2, "a second serving thread took over");
                } finally {
                    device.supply();
                    if (!waiter.waitFor(20, TimeUnit.SECONDS)) {
                        waiter.destroyForcibly().waitFor();
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "directIo={0}")
    @ValueSource(booleans = {true, false})
    void manyWaitingReadsDoNotHoldUpReadsOfPresentBlocks(boolean directIo) throws Exception {
        assumePython();
        long[] gated = {2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000};
        try (MemoryBlockDevice memory = randomDevice("memory", 40 * MIB, 12)) {
            var device = new TestDevices.Gated(memory, gated);
            FuseOptions options = mode(directIo).withThreads(2, 32);
            try (DeviceMount mount = DeviceMount.mount(dir, devices("memory", device), options)) {
                String read = "import os,sys\nfd=os.open(sys.argv[1],os.O_RDONLY)\n"
                        + "sys.stdout.write(os.pread(fd,4096,int(sys.argv[2])).hex())";
                List<Process> waiters = new ArrayList<>();
                try {
                    for (long block : gated) {
                        waiters.add(Processes.start(Processes.pythonCommand(read, mount.file("memory"), block * 4096)));
                    }
                    assertTrue(device.awaitWaiting(gated.length), "all gated reads are waiting in the device");
                    for (long block : new long[] {0, 500, 1500}) {
                        var other = Processes.python(read, mount.file("memory"), block * 4096);
                        assertEquals(hex(range(memory, block * 4096, 4096)), other.output(), "block " + block);
                    }
                    device.supply();
                    for (int i = 0; i < gated.length; i++) {
                        assertTrue(waiters.get(i).waitFor(30, TimeUnit.SECONDS));
                        assertEquals(
                                hex(range(memory, gated[i] * 4096, 4096)),
                                new String(waiters.get(i).getInputStream().readAllBytes()));
                    }
                    assertTrue(mount.peakThreads() > gated.length, "threads grew past the waiting reads");
                } finally {
                    device.supply();
                    for (Process p : waiters) {
                        if (!p.waitFor(20, TimeUnit.SECONDS)) {
                            p.destroyForcibly().waitFor();
                        }
                    }
                }
            }
        }
    }

    @Test
    void handlerFailureAnswersEioAndTheMountKeepsServing() throws Exception {
        assumePython();
        try (MemoryBlockDevice a = randomDevice("a", 8 * MIB, 6);
                MemoryBlockDevice b = randomDevice("b", 8 * MIB, 7)) {
            var unchecked = new TestDevices.Failing(a, 1000, true);
            var checked = new TestDevices.Failing(b, 1000, false);
            // A device's own I/O error is one line; only an unexpected failure (a bug) carries its stack trace.
            var logger = java.util.logging.Logger.getLogger(FuseServer.class.getName());
            var records = new java.util.concurrent.CopyOnWriteArrayList<java.util.logging.LogRecord>();
            var capture = new java.util.logging.Handler() {
                @Override
                public void publish(java.util.logging.LogRecord r) {
                    records.add(r);
                }

                @Override
                public void flush() {}

                @Override
                public void close() {}
            };
            logger.addHandler(capture);
            try (DeviceMount mount = DeviceMount.mount(dir, devices("a", unchecked, "b", checked))) {
                String program = """
                        import os,sys,errno
                        fd=os.open(sys.argv[1],os.O_RDONLY)
                        try:
                            os.pread(fd,4096,1000*4096); print('read')
                        except OSError as e: print(errno.errorcode[e.errno])
                        print(os.pread(fd,16,0).hex())
                        """;
                for (var name : new String[] {"a", "b"}) {
                    var r = Processes.python(program, mount.file(name));
                    BlockDevice d = name.equals("a") ? a : b;
                    assertEquals("EIO\n" + hex(range(d, 0, 16)) + "\n", r.output(), name);
                }
                assertTrue(mount.handlerFailures() >= 2);
            } finally {
                logger.removeHandler(capture);
            }
            var ioError = records.stream()
                    .filter(r -> r.getMessage().endsWith("could not read block 1000: injected failure"))
                    .findFirst()
                    .orElseThrow();
            assertEquals(null, ioError.getThrown(), "an I/O error is logged on one line");
            var bug = records.stream()
                    .filter(r -> r.getThrown() instanceof IllegalStateException)
                    .findFirst();
            assertTrue(bug.isPresent(), "an unexpected failure keeps its stack trace");
        }
    }

    @Test
    void losetupOnADeviceFileGivesAWorkingBlockDevice() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Processes.onPath("losetup"), "needs losetup (util-linux)");
        org.junit.jupiter.api.Assumptions.assumeTrue(
                Files.exists(Path.of("/dev/loop-control")), "needs loop devices (/dev/loop-control)");
        try (MemoryBlockDevice disk = randomDevice("disk", 16 * MIB, 8);
                DeviceMount mount = DeviceMount.mount(dir, devices("disk", disk))) {
            var attach = Processes.run(
                    30, "losetup", "-f", "--show", mount.file("disk").toString());
            assertEquals(0, attach.exit(), attach.output());
            String loop = attach.output().trim();
            try {
                byte[] data = new byte[MIB];
                new Random(9).nextBytes(data);
                Path src = tmp.resolve("src");
                Files.write(src, data);
                var dd = Processes.run(
                        30, "dd", "if=" + src, "of=" + loop, "bs=1M", "seek=3", "oflag=direct", "status=none");
                assertEquals(0, dd.exit(), dd.output());
                assertArrayEquals(data, range(disk, 3L * MIB, MIB));
                Path back = tmp.resolve("back");
                var read = Processes.run(
                        30, "dd", "if=" + loop, "of=" + back, "bs=1M", "count=16", "iflag=direct", "status=none");
                assertEquals(0, read.exit(), read.output());
                assertArrayEquals(contents(disk), Files.readAllBytes(back));
            } finally {
                var detach = Processes.run(30, "losetup", "-d", loop);
                assertEquals(0, detach.exit(), detach.output());
            }
        }
    }

    @Test
    void staleMountOfACrashedProcessIsCleanedAtTheNextMount() throws Exception {
        Process child = startMountAndWait();
        child.destroyForcibly().waitFor(); // SIGKILL to that one pid: the server dies without unmounting
        try {
            assertStaleMountIsCleaned();
        } finally {
            DeviceMount.cleanStale(dir);
        }
    }

    /**
     * A server killed while a thread of its own waits on its mount (a peer's fsync of guest RAM) cannot finish dying:
     * the request is never answered, and the dying process keeps the connection. The next mount's stale check aborts
     * the connection (it reads the server's PID from the mount's source, never asking the mount), the process ends and
     * the mount goes.
     */
    @Test
    @Timeout(60)
    void aServerKilledWhileItsOwnThreadWaitsOnTheMountIsCleaned() throws Exception {
        Process child = startMountAndWait("1", "stuck-read");
        child.destroyForcibly();
        assertFalse(child.waitFor(500, TimeUnit.MILLISECONDS), "stuck: its reading thread waits for an answer");
        MountTable.Entry e = ourMounts().stream()
                .filter(m -> m.mountPoint().equals(dir.toString()))
                .findFirst()
                .orElseThrow();
        assertEquals("drafter:" + child.pid(), e.source());
        DeviceMount.cleanStale(dir);
        assertTrue(child.waitFor(10, TimeUnit.SECONDS), "the connection aborted, the process ended");
        assertTrue(ourMounts().stream().noneMatch(m -> m.mountPoint().equals(dir.toString())));
    }

    private void assertStaleMountIsCleaned() throws Exception {
        assertFalse(ourMounts().stream()
                .filter(e -> e.mountPoint().equals(dir.toString()))
                .toList()
                .isEmpty());
        assertThrows(IOException.class, () -> Files.readAttributes(dir, "unix:ino"), "stale: ENOTCONN");
        try (MemoryBlockDevice disk = randomDevice("disk", MIB, 10);
                DeviceMount mount = DeviceMount.mount(dir, devices("disk", disk))) {
            assertArrayEquals(contents(disk), Files.readAllBytes(mount.file("disk")));
            assertEquals(
                    1,
                    ourMounts().stream()
                            .filter(e -> e.mountPoint().equals(dir.toString()))
                            .count());
        }
    }

    @Test
    void aProcessEndedWithSigtermTakesItsMountAlong() throws Exception {
        Process child = startMountAndWait();
        child.destroy(); // SIGTERM to that one pid: shutdown hooks run
        assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        try {
            assertTrue(ourMounts().stream().noneMatch(e -> e.mountPoint().equals(dir.toString())));
        } finally {
            DeviceMount.cleanStale(dir);
        }
    }

    private Process startMountAndWait(String... more) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(
                java,
                "--enable-native-access=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                MountAndWait.class.getName(),
                dir.toString()));
        command.addAll(List.of(more));
        Process child = Processes.start(command.toArray(String[]::new));
        var out = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()));
        String line;
        while ((line = out.readLine()) != null && !line.equals("mounted")) {
            System.err.println("child: " + line);
        }
        if (line == null) {
            child.destroyForcibly();
            throw new IOException("the mounting child process ended without mounting");
        }
        return child;
    }

    @Test
    void closeUnmountsWhileAnotherProcessHoldsAFileOpen() throws Exception {
        assumePython();
        try (MemoryBlockDevice disk = randomDevice("disk", MIB, 11)) {
            DeviceMount mount = DeviceMount.mount(dir, devices("disk", disk));
            Process holder = Processes.start(Processes.pythonCommand(
                    "import sys\nf=open(sys.argv[1],'rb')\nprint('open',flush=True)\nsys.stdin.readline()",
                    mount.file("disk")));
            try {
                assertEquals("open\n", new String(holder.getInputStream().readNBytes(5)));
                mount.close();
                assertTrue(ourMounts().stream().noneMatch(e -> e.mountPoint().equals(dir.toString())));
            } finally {
                holder.getOutputStream().close();
                if (!holder.waitFor(20, TimeUnit.SECONDS)) {
                    holder.destroyForcibly().waitFor();
                }
                mount.close();
            }
        }
    }

    @Test
    void badInputGetsOneClearError() throws Exception {
        try (MemoryBlockDevice disk = new MemoryBlockDevice("disk", MIB, 4096)) {
            var badName = assertThrows(IOException.class, () -> DeviceMount.mount(dir, devices("a/b", disk)));
            assertEquals(
                    "could not mount devices at " + dir + ": device name \"a/b\" is not a file name (1..255 bytes,"
                            + " no '/', not . or ..)",
                    badName.getMessage());
            try (DeviceMount mount = DeviceMount.mount(dir, devices("disk", disk))) {
                var busy = assertThrows(IOException.class, () -> DeviceMount.mount(dir, devices("disk", disk)));
                assertTrue(
                        busy.getMessage()
                                .startsWith("could not mount devices at " + dir + ": it is already mounted"
                                        + " by a running drafter FUSE server"),
                        busy.getMessage());
                assertTrue(Files.exists(mount.file("disk")), "the first mount still serves");
            }
        }
    }

    /** Direct I/O for read(2)/write(2) (the default), or everything through the page cache. */
    /**
     * What a peer relies on when QEMU started ahead read a drive before its blocks were final: the page cache keeps
     * what was read while the file stays open, whatever the device holds since, until {@link Libc#dropPageCache}.
     */
    @Test
    void droppingThePageCacheMakesAnOpenFileReadWhatTheDeviceHoldsNow() throws Exception {
        try (MemoryBlockDevice disk = randomDevice("disk", MIB, 4);
                DeviceMount mount = DeviceMount.mount(dir, devices("disk", disk), mode(false));
                java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(mount.file("disk"))) {
            java.nio.ByteBuffer first = java.nio.ByteBuffer.allocate(4096);
            ch.read(first, 0);
            byte[] changed = new byte[4096];
            java.util.Arrays.fill(changed, (byte) 0x5a);
            disk.write(java.nio.ByteBuffer.wrap(changed), 0); // underneath the kernel, as a migrated block lands
            java.nio.ByteBuffer cached = java.nio.ByteBuffer.allocate(4096);
            ch.read(cached, 0);
            assertArrayEquals(first.array(), cached.array(), "the page cache still serves the first read");

            io.drafter.linux.Libc.dropPageCache(mount.file("disk").toString());
            java.nio.ByteBuffer fresh = java.nio.ByteBuffer.allocate(4096);
            ch.read(fresh, 0);
            assertArrayEquals(changed, fresh.array(), "after the drop the device's bytes");
        }
    }

    private static FuseOptions mode(boolean directIo) {
        return FuseOptions.defaults().withDirectIo(directIo);
    }

    private static Map<String, BlockDevice> devices(Object... nameThenDevice) {
        Map<String, BlockDevice> m = new LinkedHashMap<>();
        for (int i = 0; i < nameThenDevice.length; i += 2) {
            m.put((String) nameThenDevice[i], (BlockDevice) nameThenDevice[i + 1]);
        }
        return m;
    }

    private static Object[] args(Object first, long[] rest) {
        Object[] a = new Object[rest.length + 1];
        a[0] = first;
        for (int i = 0; i < rest.length; i++) {
            a[i + 1] = rest[i];
        }
        return a;
    }
}
