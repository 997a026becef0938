package io.drafter.migration.source;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * The source agent's inbox: the frames its reader read, in a bounded queue, and the signals of its short-lived threads
 * (the suspend hook returned, the writers resumed), in a queue of their own that never blocks. Every offer wakes the
 * agent.
 *
 * <p>The bound is the engine's back-pressure: a full queue blocks the reader, so a destination that sends frames faster
 * than the agent handles them (a flood of NEEDs) slows its own reads rather than the source's memory.
 *
 * <p><b>Note:</b> any number of producers, one consumer: the agent thread, named with {@link #consumer}.
 */
final class SourceInbox {
    private static final long RECHECK_NS = TimeUnit.MILLISECONDS.toNanos(10);

    private final ArrayBlockingQueue<SourceEvent> frames;
    private final ConcurrentLinkedQueue<SourceEvent> signals = new ConcurrentLinkedQueue<>();
    private volatile Thread consumer;
    /** Set by every offer, cleared by the consumer before it drains: something may be waiting. */
    private volatile boolean pending;

    /** An inbox that holds at most {@code capacity} frames. */
    SourceInbox(int capacity) {
        this.frames = new ArrayBlockingQueue<>(capacity);
    }

    /** The thread that polls: the one {@link #wake} unparks. */
    void consumer(Thread t) {
        consumer = t;
    }

    /**
     * Queues a frame's event, waiting while the queue is full (looking at {@code abandon} every 10 ms), and wakes the
     * consumer.
     *
     * @return {@code false} if {@code abandon} said so while the queue was full: the event was dropped
     */
    boolean offerFrame(SourceEvent e, BooleanSupplier abandon) throws InterruptedException {
        if (!frames.offer(e)) {
            wake(); // the consumer drains what is there
            while (!frames.offer(e, RECHECK_NS, TimeUnit.NANOSECONDS)) {
                if (abandon.getAsBoolean()) {
                    return false;
                }
            }
        }
        wake();
        return true;
    }

    /** Queues a signal (never blocks) and wakes the consumer. */
    void signal(SourceEvent e) {
        signals.add(e);
        wake();
    }

    /**
     * Whether something was offered since the consumer last {@linkplain #drained drained}: a cheap look between the
     * frames the agent writes, so that a NEED waits for one frame, not for a batch.
     */
    boolean pending() {
        return pending;
    }

    /** The consumer is about to drain: clears {@link #pending()} (an offer from here on sets it again). */
    void drained() {
        pending = false;
    }

    /** Wakes the consumer if it is parked (or lets its next park return at once), and sets {@link #pending()}. */
    void wake() {
        pending = true;
        Thread t = consumer;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }

    /** The next event, signals before frames, or {@code null} if there is none. Consumer only. */
    SourceEvent poll() {
        SourceEvent s = signals.poll();
        return s != null ? s : frames.poll();
    }

    /** Drops every queued frame (a blocked producer goes on). Signals stay. */
    void clearFrames() {
        frames.clear();
    }

    /** Frames queued now. */
    int frames() {
        return frames.size();
    }
}
