package io.drafter.expose.fuse;

import static io.drafter.linux.fuse.FuseAbi.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import io.drafter.linux.Errno;
import io.drafter.linux.Libc;
import io.drafter.linux.LinuxException;
import io.drafter.linux.fuse.FuseDevice;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The serving threads of one FUSE connection: each reads a request, answers it and reads the next.
 *
 * <p>A request is answered on the thread that read it, so a READ that waits (a post-copy block not yet here) holds
 * only its own thread. To keep the other requests moving, a thread that takes a request while no other thread is
 * waiting in {@code read(/dev/fuse)} starts one more (up to {@link FuseOptions#maxThreads()}); threads above
 * {@link FuseOptions#minThreads()} end once the burst is over. Replies carry the request's {@code unique} id, so
 * their order does not matter.
 *
 * <p>Each thread owns one page-aligned buffer: requests are read so that WRITE data starts at {@link #DATA_OFFSET}
 * (a page boundary), and replies are written from {@code DATA_OFFSET - 16}, so READ data is page-aligned too and a
 * reply is one {@code write(2)} with no extra copy.
 *
 * <p>A handler that throws answers {@code EIO} and the thread goes on serving. Threads end when the connection goes
 * away ({@code ENODEV}, after unmount or abort).
 *
 * <p><b>Note:</b> thread-safe; {@link #start()} once, then {@link #awaitStopped} from any thread.
 */
final class FuseServer {
    private static final System.Logger LOG = System.getLogger(FuseServer.class.getName());
    static final long DATA_OFFSET = 4096;
    static final long REQUEST_OFFSET = DATA_OFFSET - IN_HEADER_BYTES - WRITE_IN_BYTES;
    private static final long SHRINK_AFTER_NS = Duration.ofSeconds(1).toNanos();

    private final String name;
    private final FuseDevice device;
    private final DeviceFileSystem fs;
    private final FuseOptions options;
    private final long bufferBytes;
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private final AtomicInteger live = new AtomicInteger();
    private final AtomicInteger idle = new AtomicInteger();
    private final AtomicInteger nextId = new AtomicInteger();
    private final AtomicLong lastSpawnNs = new AtomicLong(System.nanoTime());
    private final AtomicLong handlerFailures = new AtomicLong();
    private final AtomicInteger peakThreads = new AtomicInteger();
    private final AtomicLongArray requestsByOpcode = new AtomicLongArray(64);

    FuseServer(String name, FuseDevice device, DeviceFileSystem fs, FuseOptions options) {
        this.name = name;
        this.device = device;
        this.fs = fs;
        this.options = options;
        long need = Math.max(minimumReadBufferBytes(options.maxIoBytes()), options.maxIoBytes() + 4096L);
        this.bufferBytes = DATA_OFFSET + ((need + 4095) & ~4095L);
    }

    /** Starts the minimum number of serving threads. */
    void start() {
        for (int i = 0; i < options.minThreads(); i++) {
            live.incrementAndGet();
            spawn();
        }
    }

    /** Requests whose handler threw and were answered EIO. */
    long handlerFailures() {
        return handlerFailures.get();
    }

    /** Requests received so far with {@code opcode} (opcodes of 64 and above are counted under 63). */
    long requests(int opcode) {
        return requestsByOpcode.get(Math.clamp(opcode, 0, 63));
    }

    /** The most serving threads alive at once so far. */
    int peakThreads() {
        return peakThreads.get();
    }

    /** Waits up to {@code timeout} for every serving thread to end; returns whether they all did. */
    boolean awaitStopped(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Thread t : threads) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !t.join(Duration.ofNanos(left))) {
                return threads.isEmpty();
            }
        }
        return threads.isEmpty();
    }

    /** Interrupts every serving thread (a handler blocked in an interruptible wait gives up). */
    void interruptAll() {
        threads.forEach(Thread::interrupt);
    }

    private void spawn() {
        Thread t = Thread.ofPlatform()
                .name("fuse-" + name + "-" + nextId.getAndIncrement())
                .daemon(true)
                .unstarted(this::serve);
        threads.add(t);
        peakThreads.accumulateAndGet(threads.size(), Math::max);
        t.start();
    }

    private void serve() {
        boolean retired = false;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(bufferBytes, 4096);
            MemorySegment callState = Libc.allocateCallState(arena);
            MemorySegment request = buf.asSlice(REQUEST_OFFSET);
            MemorySegment reply = buf.asSlice(DATA_OFFSET - OUT_HEADER_BYTES);
            MemorySegment out = buf.asSlice(DATA_OFFSET);
            while (true) {
                idle.incrementAndGet();
                int n;
                try {
                    n = device.read(request, callState);
                } finally {
                    idle.decrementAndGet();
                }
                if (n < 0) {
                    break;
                }
                if (idle.get() == 0 && tryGrow()) {
                    spawn();
                }
                answer(request, n, reply, out, callState);
                if (tryRetire()) {
                    retired = true;
                    break;
                }
            }
        } catch (LinuxException e) {
            LOG.log(System.Logger.Level.ERROR, "FUSE server " + name + " stopped: " + e.getMessage(), e);
        } finally {
            threads.remove(Thread.currentThread());
            if (!retired) {
                live.decrementAndGet();
            }
        }
    }

    private boolean tryGrow() {
        while (true) {
            int n = live.get();
            if (n >= options.maxThreads()) {
                return false;
            }
            if (live.compareAndSet(n, n + 1)) {
                lastSpawnNs.set(System.nanoTime());
                return true;
            }
        }
    }

    /** Ends this thread (counted out of {@code live}) if the threads above the minimum have been idle a while. */
    private boolean tryRetire() {
        while (true) {
            int n = live.get();
            if (n <= options.minThreads()
                    || idle.get() < options.minThreads()
                    || System.nanoTime() - lastSpawnNs.get() < SHRINK_AFTER_NS) {
                return false;
            }
            if (live.compareAndSet(n, n - 1)) {
                return true;
            }
        }
    }

    private void answer(
            MemorySegment request, int length, MemorySegment reply, MemorySegment out, MemorySegment callState) {
        int opcode = request.get(JAVA_INT, IN_OPCODE);
        long unique = request.get(JAVA_LONG, IN_UNIQUE);
        long node = request.get(JAVA_LONG, IN_NODEID);
        requestsByOpcode.incrementAndGet(Math.clamp(opcode, 0, 63));
        int result;
        try {
            result = dispatch(fs, request, length, out);
        } catch (IOException e) {
            // The device refused or failed the I/O (a frozen device, a failed migration, a full disk): its own
            // one-line message says why; the kernel gets EIO like for any other failure.
            handlerFailures.incrementAndGet();
            LOG.log(
                    System.Logger.Level.WARNING,
                    "FUSE " + name + ": opcode " + opcode + " on node " + node + " failed, answering EIO: "
                            + e.getMessage());
            result = -Errno.EIO;
        } catch (Exception | LinkageError | AssertionError | StackOverflowError e) {
            handlerFailures.incrementAndGet();
            LOG.log(
                    System.Logger.Level.WARNING,
                    "FUSE " + name + ": opcode " + opcode + " on node " + node + " failed, answering EIO: " + e,
                    e);
            result = -Errno.EIO;
        }
        if (result == DeviceFileSystem.NO_REPLY) {
            return;
        }
        int bodyBytes = Math.max(0, result);
        reply.set(JAVA_INT, OUT_LEN, OUT_HEADER_BYTES + bodyBytes);
        reply.set(JAVA_INT, OUT_ERROR, Math.min(0, result));
        reply.set(JAVA_LONG, OUT_UNIQUE, unique);
        try {
            device.write(reply, OUT_HEADER_BYTES + bodyBytes, callState);
        } catch (LinuxException e) {
            // The kernel refused this reply (a malformed one is EINVAL): that request is lost, the others are not.
            LOG.log(
                    System.Logger.Level.ERROR,
                    "FUSE " + name + ": reply to opcode " + opcode + " refused: " + e.getMessage());
        }
    }

    /**
     * Decodes the request of {@code length} bytes at the start of {@code request} (a {@code fuse_in_header}, then the
     * opcode's body) and lets {@code fs} answer it, the reply body going to {@code out}. The serving threads lay
     * {@code request} at {@link #REQUEST_OFFSET} and {@code out} at {@link #DATA_OFFSET} of one buffer, so the two
     * overlap; the fuzz target feeds requests the same way, without a kernel.
     *
     * @return the reply body's length, a negated errno ({@code EINVAL} for a request shorter than its header or than
     *     the opcode's input), or {@link DeviceFileSystem#NO_REPLY}
     * @throws IOException if a device failed
     */
    static int dispatch(DeviceFileSystem fs, MemorySegment request, int length, MemorySegment out) throws IOException {
        if (length < IN_HEADER_BYTES) {
            return -Errno.EINVAL; // the kernel never sends less; the header's fields past the request are stale
        }
        int opcode = request.get(JAVA_INT, IN_OPCODE);
        long node = request.get(JAVA_LONG, IN_NODEID);
        int callerUid = request.get(JAVA_INT, IN_UID);
        MemorySegment body = request.asSlice(IN_HEADER_BYTES, Math.max(0, length - IN_HEADER_BYTES));
        return fs.handle(opcode, node, callerUid, body, out);
    }
}
