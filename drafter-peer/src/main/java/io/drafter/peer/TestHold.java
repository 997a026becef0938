package io.drafter.peer;

import java.util.Set;

/**
 * Fault-injection points for tests that kill real peer processes at a given step: with the system property {@code
 * drafter.test.hold} naming a point (comma-separated for several), the peer prints {@code drafter-test: holding at
 * <point>} on standard output when it gets there and then blocks that thread for good, so the test can kill the process
 * at exactly that step. Without the property this does nothing.
 *
 * <p>Points: {@code source-pre-copy} (dirty rounds started), {@code source-suspended} (the VM is suspended into its
 * devices, no authority sent), {@code destination-pre-copy} (receiving blocks), {@code destination-prepared} (state
 * loaded, takeover not asked for), {@code destination-running} (the VM runs here after the grant; the source has not heard so yet).
 */
public final class TestHold {
    private static final Set<String> POINTS = Set.copyOf(
            java.util.Arrays.asList(System.getProperty("drafter.test.hold", "").split(",")));

    private TestHold() {}

    /** Whether {@code point} was asked for. */
    public static boolean asked(String point) {
        return POINTS.contains(point);
    }

    /** Blocks forever if {@code point} was asked for. */
    public static void at(String point) {
        if (!POINTS.contains(point)) {
            return;
        }
        System.out.println("drafter-test: holding at " + point);
        System.out.flush();
        while (true) {
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                // Held until the process is killed.
            }
        }
    }
}
