package io.drafter.net.testing;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.concurrent.Callable;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

/**
 * Runs code inside a named network namespace: a fresh, named platform thread calls {@code setns(2)} on
 * {@code /run/netns/<name>} and then runs the work. Sockets opened there stay in that namespace after the thread
 * ends and can be used from any thread. {@code netns} null or empty: the work runs on the calling thread, in its
 * namespace. (Test support, shared with the modules above through the test-jar; the production equivalent belongs in
 * drafter-linux.)
 */
public final class InNetns {
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 0x80000;
    private static final int CLONE_NEWNET = 0x40000000;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle OPEN = LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow("open"),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle SETNS = LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow("setns"),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle CLOSE = LINKER.downcallHandle(
            LINKER.defaultLookup().findOrThrow("close"), FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private InNetns() {}

    /** Runs {@code work} inside namespace {@code netns} (null or empty: here) and returns its result. */
    public static <T> T call(String netns, Callable<T> work) throws Exception {
        if (netns == null || netns.isEmpty()) {
            return work.call();
        }
        FutureTask<T> task = new FutureTask<>(() -> {
            enter(netns);
            return work.call();
        });
        Thread.ofPlatform().name("netns-" + netns).start(task);
        try {
            return task.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }

    private static void enter(String netns) throws Exception {
        try {
            enterOrThrow(netns);
        } catch (Exception | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static void enterOrThrow(String netns) throws Throwable {
        String path = "/run/netns/" + netns;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                throw new IllegalStateException("could not open " + path + ": errno " + (int) ERRNO.get(state, 0L));
            }
            try {
                int rc = (int) SETNS.invokeExact(state, fd, CLONE_NEWNET);
                if (rc != 0) {
                    throw new IllegalStateException(
                            "could not setns " + path + ": errno " + (int) ERRNO.get(state, 0L));
                }
            } finally {
                int ignored = (int) CLOSE.invokeExact(fd);
            }
        }
    }
}
