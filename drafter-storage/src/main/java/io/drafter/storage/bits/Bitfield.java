package io.drafter.storage.bits;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.BitSet;
import java.util.function.LongConsumer;

/**
 * A fixed-size set of bits, one per block, updated lock-free.
 *
 * <p><b>Note:</b> thread-safe. Single-bit operations are atomic; {@link #collectAndClear()} is atomic per 64-bit
 * word, which is what dirty tracking needs: a bit set concurrently with a collection is reported either by that
 * collection or by the next one, never lost.
 */
public final class Bitfield {
    private final long sizeBits;
    private static final VarHandle WORD = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] words;

    public Bitfield(long sizeBits) {
        if (sizeBits < 0 || sizeBits > (long) Integer.MAX_VALUE * 64) {
            throw new IllegalArgumentException("bitfield size out of range: " + sizeBits);
        }
        this.sizeBits = sizeBits;
        this.words = new long[(int) ((sizeBits + 63) >>> 6)];
    }

    /** The number of bits. */
    public long sizeBits() {
        return sizeBits;
    }

    /** Whether bit {@code index} is set. */
    public boolean get(long index) {
        check(index);
        return (load((int) (index >>> 6)) & (1L << index)) != 0;
    }

    /** Sets bit {@code index}; returns {@code true} if it was clear before. */
    public boolean set(long index) {
        check(index);
        long mask = 1L << index;
        long old = getAndOr((int) (index >>> 6), mask);
        return (old & mask) == 0;
    }

    /** Clears bit {@code index}; returns {@code true} if it was set before. */
    public boolean clear(long index) {
        check(index);
        long mask = 1L << index;
        long old = getAndAnd((int) (index >>> 6), ~mask);
        return (old & mask) != 0;
    }

    /** Sets the bits {@code [from, to)}. */
    public void setRange(long from, long to) {
        forEachWordRange(from, to, (word, mask) -> getAndOr(word, mask));
    }

    /** Clears the bits {@code [from, to)}. */
    public void clearRange(long from, long to) {
        forEachWordRange(from, to, (word, mask) -> getAndAnd(word, ~mask));
    }

    /** Whether every bit of {@code [from, to)} is set. */
    public boolean allSet(long from, long to) {
        for (long i = from; i < to; i++) {
            if (!get(i)) {
                return false;
            }
        }
        return true;
    }

    /** The number of set bits (a snapshot, not atomic across words). */
    public long count() {
        long n = 0;
        for (int i = 0; i < words.length; i++) {
            n += Long.bitCount(load(i));
        }
        return n;
    }

    /** Calls {@code action} with every set bit index in ascending order (a snapshot per word). */
    public void forEachSet(LongConsumer action) {
        for (int i = 0; i < words.length; i++) {
            long w = load(i);
            while (w != 0) {
                int bit = Long.numberOfTrailingZeros(w);
                action.accept(((long) i << 6) + bit);
                w &= w - 1;
            }
        }
    }

    /** Atomically (per word) takes every set bit and clears it; returns what was taken. */
    public BitSet collectAndClear() {
        long[] taken = new long[words.length];
        for (int i = 0; i < taken.length; i++) {
            taken[i] = (long) WORD.getAndSet(words, i, 0L);
        }
        return BitSet.valueOf(taken);
    }

    /** A copy of the current bits (a snapshot per word). */
    public BitSet snapshot() {
        long[] copy = new long[words.length];
        for (int i = 0; i < copy.length; i++) {
            copy[i] = load(i);
        }
        return BitSet.valueOf(copy);
    }

    private long load(int word) {
        return (long) WORD.getVolatile(words, word);
    }

    private long getAndOr(int word, long mask) {
        return (long) WORD.getAndBitwiseOr(words, word, mask);
    }

    private long getAndAnd(int word, long mask) {
        return (long) WORD.getAndBitwiseAnd(words, word, mask);
    }

    private void check(long index) {
        if (index < 0 || index >= sizeBits) {
            throw new IndexOutOfBoundsException("bit " + index + " outside [0, " + sizeBits + ")");
        }
    }

    private interface WordOp {
        void apply(int word, long mask);
    }

    private void forEachWordRange(long from, long to, WordOp op) {
        if (from < 0 || to > sizeBits || from > to) {
            throw new IndexOutOfBoundsException("range [" + from + ", " + to + ") outside [0, " + sizeBits + ")");
        }
        long i = from;
        while (i < to) {
            int word = (int) (i >>> 6);
            long wordEnd = Math.min(((long) word + 1) << 6, to);
            int lo = (int) (i & 63);
            int hi = (int) (wordEnd - ((long) word << 6)); // exclusive, 1..64
            long mask = (hi == 64 ? -1L : (1L << hi) - 1) & (-1L << lo);
            op.apply(word, mask);
            i = wordEnd;
        }
    }
}
