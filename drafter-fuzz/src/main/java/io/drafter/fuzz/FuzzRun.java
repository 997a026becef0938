package io.drafter.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * The short, seeded fuzz run of the test suite: replays the kept corpus, then runs a fixed number of mutants of it
 * ({@link Mutator}) through a {@link FuzzTarget}, each within a time bound.
 *
 * <p>Guidance is by outcome only, not coverage: a mutant whose outcome (ok, or the refusal's class and message shape)
 * was not seen before joins the pool that later mutants start from. The coverage-guided runs are Jazzer's ({@code
 * scripts/fuzz.sh}).
 *
 * <p>A crash or a hang fails the run with an {@link AssertionError} that gives the seed, the execution and the input
 * in hex; {@link #replay} runs that hex again.
 */
public final class FuzzRun {
    /** The longest mutant. */
    public static final int MAX_INPUT_BYTES = 64 << 10;

    private static final int MAX_POOL = 512;

    /** What a run did. */
    public record Result(String target, long executions, int outcomes, int pool, Duration elapsed) {
        public double executionsPerSecond() {
            return executions / Math.max(1e-9, elapsed.toNanos() / 1e9);
        }

        @Override
        public String toString() {
            return String.format(
                    "%s: %d executions in %.1f s (%.0f/s), %d distinct outcomes, pool %d",
                    target, executions, elapsed.toNanos() / 1e9, executionsPerSecond(), outcomes, pool);
        }
    }

    private FuzzRun() {}

    /** The seed of the suite's short runs: {@code -Ddrafter.fuzz.seed=N} tries others, the default is fixed. */
    public static long seed() {
        return Long.getLong("drafter.fuzz.seed", 20261206L);
    }

    /**
     * The kept corpus of a fuzz test: the files of resource directory {@code <TestClass>Inputs/<method>} beside the
     * test class (Jazzer's layout, which its regression mode replays too), in name order.
     */
    public static List<byte[]> corpus(Class<?> testClass, String method) {
        String dir = testClass.getSimpleName() + "Inputs/" + method;
        URL url = testClass.getResource(dir);
        if (url == null) {
            throw new IllegalStateException("no fuzz corpus " + dir + " beside " + testClass.getName());
        }
        try (Stream<Path> files = Files.list(Path.of(url.toURI()))) {
            List<byte[]> out = new ArrayList<>();
            for (Path p : files.sorted().toList()) {
                if (Files.isRegularFile(p)) {
                    out.add(Files.readAllBytes(p));
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Runs the corpus, then {@code executions} mutants, through {@code target}.
     *
     * @param seed the generator's seed: the same seed, corpus and target give the same inputs
     * @param perInput how long one input may run before it counts as a hang
     * @throws AssertionError on the first crash or hang
     */
    public static Result run(
            FuzzTarget target,
            List<byte[]> corpus,
            List<String> dictionary,
            long seed,
            int executions,
            Duration perInput) {
        Mutator mutator = new Mutator(MAX_INPUT_BYTES, dictionary);
        List<byte[]> pool = new ArrayList<>(corpus);
        Set<String> outcomes = new HashSet<>();
        AtomicReference<Throwable> crash = new AtomicReference<>();
        AtomicReference<byte[]> current = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        long[] index = {-1};
        long[] startedNs = {System.nanoTime()};
        Object lock = new Object();
        long start = System.nanoTime();
        Thread worker = Thread.ofPlatform()
                .name("fuzz-" + target.name())
                .daemon(true)
                .start(() -> {
                    SplittableRandom r = new SplittableRandom(seed);
                    long total = corpus.size() + (long) executions;
                    for (long i = 0; i < total && crash.get() == null && !stop.get(); i++) {
                        byte[] input = i < corpus.size()
                                ? corpus.get((int) i)
                                : mutator.mutate(pool.get(r.nextInt(pool.size())), pool, r);
                        synchronized (lock) {
                            index[0] = i;
                            current.set(input);
                            startedNs[0] = System.nanoTime();
                        }
                        try {
                            if (outcomes.add(target.run(input)) && i >= corpus.size() && pool.size() < MAX_POOL) {
                                pool.add(input);
                            }
                        } catch (Throwable t) {
                            crash.set(t);
                        }
                    }
                });
        try {
            while (!worker.join(Duration.ofMillis(20))) {
                synchronized (lock) {
                    if (System.nanoTime() - startedNs[0] > perInput.toNanos()) {
                        stop.set(true);
                        worker.interrupt();
                        throw failure(
                                target,
                                seed,
                                index[0],
                                corpus.size(),
                                current.get(),
                                "hang: still running after " + perInput.toMillis() + " ms",
                                null);
                    }
                }
            }
        } catch (InterruptedException e) {
            stop.set(true);
            worker.interrupt();
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
        Throwable t = crash.get();
        if (t != null) {
            throw failure(target, seed, index[0], corpus.size(), current.get(), "crash: " + t.getMessage(), t);
        }
        return new Result(
                target.name(),
                corpus.size() + (long) executions,
                outcomes.size(),
                pool.size(),
                Duration.ofNanos(System.nanoTime() - start));
    }

    /** Runs one input given in hex (as a failed run prints it) through {@code target}. */
    public static String replay(FuzzTarget target, String hex) {
        return target.run(HexFormat.of().parseHex(hex.replaceAll("\\s", "")));
    }

    private static AssertionError failure(
            FuzzTarget target, long seed, long index, int corpusSize, byte[] input, String what, Throwable cause) {
        String which = index < corpusSize ? "corpus input " + index : "execution " + (index - corpusSize);
        return new AssertionError(
                target.name() + " " + what + "\n  seed " + seed + ", " + which + ", " + input.length
                        + " bytes; replay with FuzzRun.replay(target, \"<hex>\"):\n  "
                        + HexFormat.of().formatHex(input),
                cause);
    }
}
