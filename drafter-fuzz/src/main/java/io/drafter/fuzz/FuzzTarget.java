package io.drafter.fuzz;

import java.lang.management.ManagementFactory;
import java.util.function.Predicate;

/**
 * One parser fed one input, and the oracle that tells a refusal from a crash.
 *
 * <p>An input passes when {@code body} returns, or throws an exception that {@code refusal} accepts (the parser's
 * documented error: {@code ProtocolException} for frames, an {@code IOException} with a one-line message for files,
 * ...). Anything else fails the input with a {@link FuzzCrash}: another exception (an unchecked one from a forgotten
 * check), an {@link Error} ({@link OutOfMemoryError}, {@link StackOverflowError}, a failed invariant of the body), or
 * more bytes allocated by this thread than {@code maxAllocatedBytes} plus 64 per input byte (an allocation sized by a
 * length field rather than by the input; not judged under Jazzer). Hangs are the runner's to catch ({@link
 * FuzzRun}, or Jazzer's {@code -timeout}).
 *
 * <p>Thread-safe if {@code body} is.
 *
 * @param name the target's name, as {@code scripts/fuzz.sh} takes it
 * @param maxAllocatedBytes what one input may make the calling thread allocate besides 64 bytes per input byte
 */
public record FuzzTarget(String name, Body body, Predicate<Throwable> refusal, long maxAllocatedBytes) {
    /**
     * Whether Jazzer fuzzes ({@code JAZZER_FUZZ}): then allocation is not judged, as its compare hooks allocate in
     * every loop of the instrumented code (an old GNU sparse entry read through commons-compress allocated 560 MB under
     * them, 23 KB without). An {@link OutOfMemoryError} still counts, and the suite judges every kept input without
     * hooks.
     */
    private static final boolean UNDER_JAZZER = System.getenv("JAZZER_FUZZ") != null;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** The parser under test; any exception it throws is judged by the refusal predicate. */
    @FunctionalInterface
    public interface Body {
        void accept(byte[] input) throws Exception;
    }

    /**
     * Runs {@code input} through the body.
     *
     * @return the outcome's shape: {@code "ok"}, or the refusal's class and message with numbers and paths blurred,
     *     which the mutational runner uses as its (coverage-free) guidance
     * @throws FuzzCrash if the input crashes the target
     */
    public String run(byte[] input) {
        long limit = maxAllocatedBytes + 64L * input.length;
        long before = THREADS.getCurrentThreadAllocatedBytes();
        Throwable thrown = attempt(input);
        long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
        String outcome = judge(thrown);
        if (allocated > limit && !UNDER_JAZZER) {
            // Loading (and Jazzer instrumenting) the classes an input reaches first allocates too: measure it again.
            before = THREADS.getCurrentThreadAllocatedBytes();
            attempt(input);
            allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            if (allocated > limit) {
                throw new FuzzCrash(name + ": " + input.length + " input bytes made it allocate " + allocated
                        + " bytes, more than the bound of " + limit + " (" + outcome + ")");
            }
        }
        return outcome;
    }

    /** What the body threw, or {@code null}; measured alone, without this oracle's own work. */
    private Throwable attempt(byte[] input) {
        try {
            body.accept(input);
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    private String judge(Throwable t) {
        if (t == null) {
            return "ok";
        }
        if (t instanceof FuzzCrash crash) {
            throw crash;
        }
        if (t instanceof Error || !refusal.test(t)) {
            throw new FuzzCrash(name + ": " + t, t);
        }
        return shape(t);
    }

    /** A refusal: {@code type} (or a subclass) with a non-empty message of one line. */
    public static Predicate<Throwable> oneLine(Class<? extends Throwable> type) {
        return t -> type.isInstance(t)
                && t.getMessage() != null
                && !t.getMessage().isBlank()
                && t.getMessage().indexOf('\n') < 0;
    }

    private static String shape(Throwable t) {
        String m = String.valueOf(t.getMessage());
        m = m.replaceAll("/[^ :,'\"]*", "/…").replaceAll("[0-9]+", "#");
        return t.getClass().getSimpleName() + ": " + (m.length() > 160 ? m.substring(0, 160) : m);
    }
}
