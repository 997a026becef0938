package io.drafter.migration.source;

/**
 * What reaches the source's agent from its other threads, through the {@link SourceInbox}: the frames the reader read
 * from the destination (already checked against the device group), and the short-lived threads' completions.
 */
sealed interface SourceEvent {
    /** NEED: a reader at the destination waits for {@code block} of {@code device}. */
    record Need(int device, long block) implements SourceEvent {}

    /** CREDIT: the destination can take {@code frames} more data frames of {@code device}. */
    record Credit(int device, int frames) implements SourceEvent {}

    /** AUTHORITY_ACK, read at {@code receivedNs} ({@link System#nanoTime()}). */
    record AuthorityAck(long receivedNs) implements SourceEvent {}

    /** TAKEOVER: the destination asks for the devices. */
    record Takeover() implements SourceEvent {}

    /** COMPLETED: the destination runs; the reader has stopped. */
    record Completed() implements SourceEvent {}

    /**
     * {@link SuspendHook#suspend()} returned at {@code returnedNs}, or threw {@code error}; with {@code prepared}, it
     * was {@link SuspendHook#prepare()} that returned {@code true}: the writers still run, and the last live round is
     * due.
     */
    record SuspendReturned(long returnedNs, Throwable error, boolean prepared) implements SourceEvent {}

    /** What {@link SuspendHook#settling()} left to do is done, or failed with {@code error}. */
    record Settled(Throwable error) implements SourceEvent {}

    /** The writers were resumed after the GRANT of a copy, or resuming them threw {@code error}. */
    record WritersResumed(Throwable error) implements SourceEvent {}
}
