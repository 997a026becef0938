package io.drafter.migration.source;

import java.util.concurrent.CompletableFuture;

/**
 * The source's writers across a failed migration: the {@link SuspendHook} suspended them, and they are resumed at most
 * once, by whoever claims it first (the engine after a failure while it still owns the devices, or the caller's {@link
 * MigrationSource#resumeSource()}); anyone else who claims it waits until the hook's {@code resume()} returned, so a
 * caller that sees the failure finds the source settled.
 *
 * <p>{@link #hookEntered}, {@link #hookReturned} and the claims are called under the engine's lock; {@link #resume}
 * outside it.
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
    private final CompletableFuture<Void> resumed = new CompletableFuture<>();
    private boolean inHook;
    private boolean suspended;
    private boolean claimed;

    WriterResume(SuspendHook hook) {
        this.hook = hook;
    }

    /** The engine is about to call {@link SuspendHook#suspend()}. */
    void hookEntered() {
        inHook = true;
    }

    /** {@link SuspendHook#suspend()} returned (or threw): the writers count as suspended. */
    void hookReturned() {
        inHook = false;
        suspended = true;
    }

    /** Whether the engine is inside {@link SuspendHook#suspend()}. */
    boolean inHook() {
        return inHook;
    }

    /** The caller's claim ({@link MigrationSource#resumeSource()}): after it the engine never resumes on its own. */
    Turn claimForCaller() {
        Turn t = !suspended ? Turn.NONE : claimed ? Turn.WAIT : Turn.MINE;
        claimed = true;
        return t;
    }

    /** The engine's claim after a failure; it claims nothing when the writers were not suspended. */
    Turn claimForEngine() {
        if (!suspended) {
            return Turn.NONE;
        }
        Turn t = claimed ? Turn.WAIT : Turn.MINE;
        claimed = true;
        return t;
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
