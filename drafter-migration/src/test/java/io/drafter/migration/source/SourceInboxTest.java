package io.drafter.migration.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The source agent's inbox: the order it hands events out, its bound (the back-pressure), and the wake-ups. */
@Timeout(30)
class SourceInboxTest {
    @Test
    void framesComeInTheirOrderAfterSignals() throws Exception {
        SourceInbox inbox = new SourceInbox(8);
        inbox.offerFrame(new SourceEvent.Credit(0, 4), () -> false);
        inbox.offerFrame(new SourceEvent.Need(1, 7), () -> false);
        inbox.signal(new SourceEvent.SuspendReturned(42, null, false));
        inbox.offerFrame(new SourceEvent.Takeover(), () -> false);
        assertEquals(3, inbox.frames());
        assertInstanceOf(SourceEvent.SuspendReturned.class, inbox.poll(), "a signal jumps the frames");
        assertEquals(new SourceEvent.Credit(0, 4), inbox.poll());
        assertEquals(new SourceEvent.Need(1, 7), inbox.poll());
        assertEquals(new SourceEvent.Takeover(), inbox.poll());
        assertNull(inbox.poll());
    }

    @Test
    void anOfferSinceTheLastDrainIsPending() throws Exception {
        SourceInbox inbox = new SourceInbox(4);
        assertFalse(inbox.pending());
        inbox.offerFrame(new SourceEvent.Need(0, 1), () -> false);
        assertTrue(inbox.pending(), "the agent ends its batch of frames to write");
        inbox.drained();
        assertFalse(inbox.pending());
        assertEquals(new SourceEvent.Need(0, 1), inbox.poll());
        inbox.signal(new SourceEvent.Takeover());
        assertTrue(inbox.pending());
    }

    @Test
    void aFullInboxHoldsTheReaderBackUntilTheAgentTakesOne() throws Exception {
        SourceInbox inbox = new SourceInbox(2);
        inbox.offerFrame(new SourceEvent.Need(0, 1), () -> false);
        inbox.offerFrame(new SourceEvent.Need(0, 2), () -> false);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Boolean> third = pool.submit(() -> inbox.offerFrame(new SourceEvent.Need(0, 3), () -> false));
            assertThrows(TimeoutException.class, () -> third.get(200, TimeUnit.MILLISECONDS), "blocked while full");
            assertEquals(new SourceEvent.Need(0, 1), inbox.poll());
            assertTrue(third.get(5, TimeUnit.SECONDS));
            assertEquals(new SourceEvent.Need(0, 2), inbox.poll());
            assertEquals(new SourceEvent.Need(0, 3), inbox.poll());
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void aBlockedReaderGivesUpOnceTheMigrationEnded() throws Exception {
        SourceInbox inbox = new SourceInbox(1);
        inbox.offerFrame(new SourceEvent.Need(0, 1), () -> false);
        AtomicBoolean ended = new AtomicBoolean();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Boolean> blocked = pool.submit(() -> inbox.offerFrame(new SourceEvent.Need(0, 2), ended::get));
            assertThrows(TimeoutException.class, () -> blocked.get(100, TimeUnit.MILLISECONDS));
            ended.set(true);
            assertFalse(blocked.get(5, TimeUnit.SECONDS), "dropped: nobody handles it any more");
            inbox.clearFrames();
            assertNull(inbox.poll());
        } finally {
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void everyOfferWakesTheParkedConsumer() throws Exception {
        SourceInbox inbox = new SourceInbox(4);
        CompletableFuture<SourceEvent> got = new CompletableFuture<>();
        Thread consumer = Thread.ofPlatform().daemon().unstarted(() -> {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            SourceEvent e;
            while ((e = inbox.poll()) == null && System.nanoTime() < deadline) {
                LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(10)); // only an unpark ends this early
            }
            got.complete(e);
        });
        inbox.consumer(consumer);
        consumer.start();
        Thread.sleep(50);
        long offeredNs = System.nanoTime();
        inbox.signal(new SourceEvent.WritersResumed(null));
        assertEquals(new SourceEvent.WritersResumed(null), got.get(5, TimeUnit.SECONDS));
        assertTrue(System.nanoTime() - offeredNs < TimeUnit.SECONDS.toNanos(5), "woken, not timed out");
        consumer.join(5_000);
    }
}
