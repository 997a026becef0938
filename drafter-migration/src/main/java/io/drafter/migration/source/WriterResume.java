package io.drafter.migration.source;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The source's writers across a failed migration: the {@link SuspendHook} suspended them, and they are resumed at most
 * once, by whoever claims it first (the engine after a failure while it still owns the devices, or the caller's {@link
 * MigrationSource#resumeSource()}); anyone else who claims it waits until the hook's {@code resume()} returned, so a
 * caller that sees the failure finds the source settled.
 *
 * <p><b>Note:</b> thread-safe without a lock: the state is one atomic word, and each claim is decided by one
 * compare-and-set, so the engine's agent (after a failure) and the caller of {@link MigrationSource#resumeSource()} can
 * claim at the same time and exactly one of them resumes.
 */
final class WriterResume {
    /** What a claim gives its caller to do. */
    enum Turn {
        /** The writers were not suspended: nothing. */
        NONE,
        /** Call the hook's {@code resume()}. */
        MINE,
        /** Someone else resumes them: wait for it. */
        WAIT
    }

    private final SuspendHook hook;
    private static final int IN_HOOK = 1;
    private static final int SUSPENDED = 2;
    private static final int CLAIMED = 4;

    private final CompletableFuture<Void> resumed = new CompletableFuture<>();
    /** {@link #IN_HOOK}, {@link #SUSPENDED} and {@link #CLAIMED} bits. */
    private final AtomicInteger state = new AtomicInteger();

    WriterResume(SuspendHook hook) {
        this.hook = hook;
    }

    /** The engine is about to call {@link SuspendHook#suspend()}. */
    void hookEntered() {
        state.updateAndGet(s -> s | IN_HOOK);
    }

    /** {@link SuspendHook#suspend()} returned (or threw): the writers count as suspended. */
    void hookReturned() {
        state.updateAndGet(s -> (s & ~IN_HOOK) | SUSPENDED);
    }

    /** Whether the engine is inside {@link SuspendHook#suspend()}. */
    boolean inHook() {
        return (state.get() & IN_HOOK) != 0;
    }

    /** The caller's claim ({@link MigrationSource#resumeSource()}): after it the engine never resumes on its own. */
    Turn claimForCaller() {
        int before = state.getAndUpdate(s -> s | CLAIMED);
        return (before & SUSPENDED) == 0 ? Turn.NONE : (before & CLAIMED) != 0 ? Turn.WAIT : Turn.MINE;
    }

    /** The engine's claim after a failure; it claims nothing when the writers were not suspended. */
    Turn claimForEngine() {
        int before = state.getAndUpdate(s -> (s & SUSPENDED) == 0 ? s : s | CLAIMED);
        return (before & SUSPENDED) == 0 ? Turn.NONE : (before & CLAIMED) != 0 ? Turn.WAIT : Turn.MINE;
    }

    /**
     * Does what {@code turn} says: calls the hook and then lets the waiters go, or waits until the claimant's call
     * returned.
     *
     * @throws Exception what {@link SuspendHook#resume()} threw (with {@link Turn#MINE})
     */
    void resume(Turn turn) throws Exception {
        switch (turn) {
            case NONE -> {}
            case MINE -> {
                try {
                    hook.resume();
                } finally {
                    resumed.complete(null);
                }
            }
            case WAIT -> resumed.join();
        }
    }
}
