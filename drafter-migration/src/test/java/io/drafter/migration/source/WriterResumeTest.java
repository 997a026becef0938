package io.drafter.migration.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Who resumes the source's writers after a failure: at most once, and the others wait for it. */
@Timeout(10)
class WriterResumeTest {
    /** A hook that counts its resumes; {@code gate} holds each resume until it opens. */
    static final class CountingHook implements SuspendHook {
        final AtomicInteger resumes = new AtomicInteger();
        final CountDownLatch gate;

        CountingHook(CountDownLatch gate) {
            this.gate = gate;
        }

        @Override
        public void suspend() {}

        @Override
        public void resume() throws InterruptedException {
            resumes.incrementAndGet();
            gate.await();
        }
    }

    static WriterResume suspended(SuspendHook hook) {
        WriterResume w = new WriterResume(hook);
        w.hookEntered();
        assertTrue(w.inHook());
        w.hookReturned();
        assertFalse(w.inHook());
        return w;
    }

    @Test
    void writersThatWereNeverSuspendedAreNotResumed() throws Exception {
        CountingHook hook = new CountingHook(new CountDownLatch(0));
        WriterResume w = new WriterResume(hook);
        assertEquals(WriterResume.Turn.NONE, w.claimForEngine());
        assertEquals(WriterResume.Turn.NONE, w.claimForCaller());
        w.resume(WriterResume.Turn.NONE);
        assertEquals(0, hook.resumes.get());
    }

    @Test
    void theFirstClaimResumesAndTheOthersWait() throws Exception {
        CountingHook hook = new CountingHook(new CountDownLatch(0));
        WriterResume w = suspended(hook);
        assertEquals(WriterResume.Turn.MINE, w.claimForEngine());
        assertEquals(WriterResume.Turn.WAIT, w.claimForEngine());
        assertEquals(WriterResume.Turn.WAIT, w.claimForCaller());
        w.resume(WriterResume.Turn.MINE);
        w.resume(WriterResume.Turn.WAIT);
        assertEquals(1, hook.resumes.get());
    }

    @Test
    void theCallersClaimWinsOverTheEngine() {
        WriterResume w = suspended(new CountingHook(new CountDownLatch(0)));
        assertEquals(WriterResume.Turn.MINE, w.claimForCaller());
        assertEquals(WriterResume.Turn.WAIT, w.claimForEngine());
    }

    @Test
    void aWaiterReturnsOnlyOnceTheResumeReturned() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        WriterResume w = suspended(new CountingHook(gate));
        WriterResume.Turn first = w.claimForEngine();
        WriterResume.Turn second = w.claimForCaller();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> resuming = pool.submit(() -> {
                w.resume(first);
                return null;
            });
            Future<?> waiting = pool.submit(() -> {
                w.resume(second);
                return null;
            });
            assertThrows(TimeoutException.class, () -> waiting.get(200, TimeUnit.MILLISECONDS));
            gate.countDown();
            resuming.get(5, TimeUnit.SECONDS);
            waiting.get(5, TimeUnit.SECONDS);
        } finally {
            gate.countDown();
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(5, TimeUnit.SECONDS));
        }
    }

    @Test
    void aFailingResumeStillLetsTheWaitersGo() throws Exception {
        IllegalStateException boom = new IllegalStateException("resume failed");
        WriterResume w = suspended(new SuspendHook() {
            @Override
            public void suspend() {}

            @Override
            public void resume() {
                throw boom;
            }
        });
        WriterResume.Turn first = w.claimForEngine();
        assertSame(boom, assertThrows(IllegalStateException.class, () -> w.resume(first)));
        w.resume(w.claimForCaller()); // returns at once
    }
}
