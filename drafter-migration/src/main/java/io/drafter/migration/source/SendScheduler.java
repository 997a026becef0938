package io.drafter.migration.source;

import java.util.ArrayDeque;
import java.util.BitSet;

/**
 * Which block the source sends next, over all devices of one migration: blocks the destination asked for first, then
 * dirty blocks, then the full copy in each device's order; devices take turns (round-robin, separately for requested
 * and for other blocks), and only a device with credit from the destination sends.
 *
 * <p>Pure: no threads, no I/O, no clock. Each device has a queue of requested blocks, a queue of dirty blocks (a block
 * queued once however often it is dirtied), its full-copy order and cursor, its credit, and the blocks picked but not
 * yet {@linkplain #sent sent}.
 *
 * <p><b>Note:</b> not thread-safe; the source's agent thread owns it.
 */
final class SendScheduler {
    private static final class Lane {
        final ArrayDeque<Long> need = new ArrayDeque<>();
        final BitSet needQueued = new BitSet();
        final ArrayDeque<Long> dirty = new ArrayDeque<>();
        final BitSet dirtyQueued = new BitSet();
        long[] fullOrder = new long[0];
        int fullCursor;
        int credit;
        int inFlight;
        /** Dirty and full-copy blocks of lower ranks go first; requested blocks always do. */
        int rank;

        boolean hasData() {
            return !need.isEmpty() || !dirty.isEmpty() || fullCursor < fullOrder.length;
        }

        boolean hasDataBeyondNeeds() {
            return !dirty.isEmpty() || fullCursor < fullOrder.length;
        }
    }

    private final Lane[] lanes;
    private int nextNeed;
    private int nextData;

    /** A scheduler for {@code devices} devices, with nothing to send and no credit. */
    SendScheduler(int devices) {
        lanes = new Lane[devices];
        for (int i = 0; i < devices; i++) {
            lanes[i] = new Lane();
        }
    }

    /** Sets every device's credit, as agreed in the handshake. */
    void initialCredit(int frames) {
        for (Lane l : lanes) {
            l.credit = frames;
        }
    }

    /** Adds {@code frames} to the credit of {@code device}. */
    void addCredit(int device, int frames) {
        lanes[device].credit += frames;
    }

    /** The credit {@code device} has left. */
    int credit(int device) {
        return lanes[device].credit;
    }

    /**
     * Sets the rank of {@code device} (default 0): among devices with credit and blocks to send, only those of the
     * lowest rank send their dirty and full-copy blocks, round-robin; a device of a higher rank sends when none of a
     * lower rank can. Requested blocks ignore ranks.
     */
    void rank(int device, int rank) {
        lanes[device].rank = rank;
    }

    /** Starts the full copy of {@code device}: every block once, in {@code order}. */
    void fullCopy(int device, long[] order) {
        lanes[device].fullOrder = order;
        lanes[device].fullCursor = 0;
    }

    /** Queues {@code blocks} of {@code device} as dirty; one already queued keeps its place. */
    void dirty(int device, long[] blocks) {
        Lane l = lanes[device];
        for (long b : blocks) {
            if (!l.dirtyQueued.get((int) b)) {
                l.dirtyQueued.set((int) b);
                l.dirty.add(b);
            }
        }
    }

    /**
     * Queues a block the destination asked for.
     *
     * @return {@code false} if it was queued already
     */
    boolean need(int device, long block) {
        Lane l = lanes[device];
        if (l.needQueued.get((int) block)) {
            return false;
        }
        l.needQueued.set((int) block);
        l.need.add(block);
        return true;
    }

    /**
     * The next block to send, or {@code null} if no device with credit has one. The block's device spends one credit
     * and has it in flight until {@link #sent}.
     */
    Outgoing.Block pick() {
        int n = lanes.length;
        for (int i = 0; i < n; i++) {
            int d = (nextNeed + i) % n;
            Lane l = lanes[d];
            if (l.credit > 0 && !l.need.isEmpty()) {
                nextNeed = (d + 1) % n;
                long b = l.need.poll();
                l.needQueued.clear((int) b);
                return take(l, d, b, true);
            }
        }
        int lowest = Integer.MAX_VALUE;
        for (Lane l : lanes) {
            if (l.credit > 0 && l.hasDataBeyondNeeds()) {
                lowest = Math.min(lowest, l.rank);
            }
        }
        for (int i = 0; i < n; i++) {
            int d = (nextData + i) % n;
            Lane l = lanes[d];
            if (l.credit <= 0 || !l.hasData() || l.rank != lowest) {
                continue;
            }
            long b;
            if (!l.dirty.isEmpty()) {
                b = l.dirty.poll();
                l.dirtyQueued.clear((int) b);
            } else if (l.fullCursor < l.fullOrder.length) {
                b = l.fullOrder[l.fullCursor++];
            } else {
                continue;
            }
            nextData = (d + 1) % n;
            return take(l, d, b, false);
        }
        return null;
    }

    private static Outgoing.Block take(Lane l, int device, long block, boolean priority) {
        l.credit--;
        l.inFlight++;
        return new Outgoing.Block(device, block, priority);
    }

    /**
     * A picked block of {@code device} left (or failed to).
     *
     * @return whether the device is {@linkplain #drained drained} now
     */
    boolean sent(int device) {
        lanes[device].inFlight--;
        return drained(device);
    }

    /** Whether {@code device} has sent its full copy and every dirty block (requested blocks do not count). */
    boolean drained(int device) {
        Lane l = lanes[device];
        return l.dirty.isEmpty() && l.fullCursor >= l.fullOrder.length && l.inFlight == 0;
    }

    /** Whether every device is {@linkplain #drained drained}. */
    boolean allDrained() {
        for (int d = 0; d < lanes.length; d++) {
            if (!drained(d)) {
                return false;
            }
        }
        return true;
    }

    /** Whether nothing is left at all: no requested, dirty or unsent block, and none in flight. */
    boolean idle() {
        for (Lane l : lanes) {
            if (l.hasData() || l.inFlight > 0) {
                return false;
            }
        }
        return true;
    }
}
