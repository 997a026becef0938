package io.drafter.migration.destination;

import java.util.function.BooleanSupplier;

/**
 * The destination's side of the hand-over: AUTHORITY arrives (once), this side asks for the devices (TAKEOVER, once),
 * and the source's GRANT arrives (once, and only after TAKEOVER). After AUTHORITY it decides, whenever blocks arrived,
 * what comes next: nothing yet (with {@link DestinationOptions#waitForAllBlocks()} until every block is here), let an
 * explicit caller prepare ({@link DestinationOptions#explicitTakeover()}), or ask for the grant on the caller's behalf.
 *
 * <p>Pure; <b>not</b> thread-safe except {@link #granted()}: the engine calls it under its lock.
 */
final class TakeoverGate {
    /** What the engine does next after AUTHORITY. */
    enum Step {
        /** Nothing yet. */
        WAIT,
        /** Hand the devices to the explicit caller to prepare on (once). */
        PREPARE,
        /** Send TAKEOVER (this step comes once). */
        ASK
    }

    private final boolean explicitTakeover;
    private final boolean waitForAllBlocks;
    private boolean authorityArrived;
    private boolean takeoverSent;
    private volatile boolean grantArrived;

    TakeoverGate(boolean explicitTakeover, boolean waitForAllBlocks) {
        this.explicitTakeover = explicitTakeover;
        this.waitForAllBlocks = waitForAllBlocks;
    }

    /**
     * AUTHORITY arrived.
     *
     * @return {@code false} if it is a second one
     */
    boolean authority() {
        if (authorityArrived) {
            return false;
        }
        authorityArrived = true;
        return true;
    }

    /**
     * Whether TAKEOVER goes now: the first time only.
     *
     * @return {@code false} if it was sent already
     */
    boolean ask() {
        if (takeoverSent) {
            return false;
        }
        takeoverSent = true;
        return true;
    }

    /** Whether TAKEOVER was sent. */
    boolean asked() {
        return takeoverSent;
    }

    /**
     * GRANT arrived.
     *
     * @return {@code false} if it is out of order: before TAKEOVER, or a second one
     */
    boolean grant() {
        if (!takeoverSent || grantArrived) {
            return false;
        }
        grantArrived = true;
        return true;
    }

    /** Whether GRANT arrived; after it no data may arrive. Safe from any thread. */
    boolean granted() {
        return grantArrived;
    }

    /** After AUTHORITY, whenever blocks arrived: what to do; {@code allBlocksHere} is asked only when it matters. */
    Step next(BooleanSupplier allBlocksHere) {
        if (waitForAllBlocks && !allBlocksHere.getAsBoolean()) {
            return Step.WAIT;
        }
        if (explicitTakeover) {
            return Step.PREPARE;
        }
        return ask() ? Step.ASK : Step.WAIT;
    }
}
