package io.drafter.base;

import java.util.Collection;

/** Joining threads whose work must not be left half done. */
public final class Threads {
    private Threads() {}

    /**
     * Waits until every thread of {@code threads} ended, even when interrupted: a caller that went on early would find
     * their work (a flush, a device state half written) unfinished. The interrupt is kept for later.
     */
    public static void joinAll(Collection<Thread> threads) {
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
