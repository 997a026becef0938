package io.drafter.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The runner's oracle: refusals pass; other exceptions, errors, hangs and large allocations fail with the input. */
class FuzzRunTest {
    private static final List<byte[]> CORPUS = List.of(new byte[] {1, 2, 3, 4}, "hello 123".getBytes());

    @Test
    void theSameSeedGivesTheSameMutants() {
        Mutator m = new Mutator(1024, List.of("token"));
        SplittableRandom a = new SplittableRandom(7);
        SplittableRandom b = new SplittableRandom(7);
        for (int i = 0; i < 1000; i++) {
            assertArrayEquals(m.mutate(CORPUS.get(i % 2), CORPUS, a), m.mutate(CORPUS.get(i % 2), CORPUS, b));
        }
    }

    @Test
    void refusalsPassAndOutcomesGuideThePool() {
        FuzzTarget t = new FuzzTarget(
                "refuses",
                in -> {
                    if (in.length % 3 == 0) {
                        throw new IOException("could not parse: " + in.length + " bytes");
                    }
                },
                FuzzTarget.oneLine(IOException.class),
                1 << 20);
        FuzzRun.Result r = FuzzRun.run(t, CORPUS, List.of(), 1, 2000, Duration.ofSeconds(5));
        assertEquals(2002, r.executions());
        assertEquals(2, r.outcomes(), "ok, and the IOException whatever its length");
    }

    @Test
    void anUndocumentedExceptionFailsWithTheSeedAndTheInputInHex() {
        FuzzTarget t = new FuzzTarget(
                "indexes",
                in -> {
                    int unused = in[in[0] & 0xFF];
                },
                e -> false,
                1 << 20);
        AssertionError e = assertThrows(
                AssertionError.class, () -> FuzzRun.run(t, CORPUS, List.of(), 3, 100_000, Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("seed 3"), e.getMessage());
        assertTrue(e.getMessage().contains("ArrayIndexOutOfBoundsException"), e.getMessage());
        String hex =
                e.getMessage().substring(e.getMessage().lastIndexOf('\n') + 1).strip();
        assertThrows(FuzzCrash.class, () -> FuzzRun.replay(t, hex));
    }

    @Test
    void aHangAndAnUnboundedAllocationAreCrashes() {
        FuzzTarget hangs = new FuzzTarget(
                "hangs",
                in -> {
                    if (in.length > 8) {
                        Thread.sleep(60_000); // the hang the runner must catch
                    }
                },
                e -> e instanceof InterruptedException,
                1 << 20);
        AssertionError e = assertThrows(
                AssertionError.class, () -> FuzzRun.run(hangs, CORPUS, List.of(), 1, 1000, Duration.ofMillis(200)));
        assertTrue(e.getMessage().contains("hang"), e.getMessage());
        FuzzTarget allocates =
                new FuzzTarget("allocates", in -> new byte[in.length << 20].clone(), e2 -> false, 1 << 20);
        assertThrows(FuzzCrash.class, () -> allocates.run(new byte[8]));
    }
}
