package io.drafter.storage.freeze;

import io.drafter.storage.BlockDevice;
import io.drafter.storage.ForwardingBlockDevice;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A layer that can hold writes: after {@link #freeze()} every write waits (it does not fail) until {@link #thaw()}, or
 * fails once {@link #release(String)} says the device went elsewhere. Reads and flushes always pass.
 *
 * <p>This is how a device without a VM is suspended for a migration: its writers (other processes writing the device's
 * file) block at the freeze, so the final dirty set taken after it is final; should the migration fail, a thaw lets
 * them go on as if nothing happened. {@link #freeze()} returns only when the writes that had already passed the gate
 * have reached the device below, so the layer below (a dirty tracker) has seen all of them.
 *
 * <p><b>Note:</b> thread-safe. A writer that waits can be interrupted (its write then fails with {@link
 * InterruptedIOException}, nothing written). {@link #close()} releases waiting writers (they fail) and closes the
 * device below.
 */
public final class FreezableDevice extends ForwardingBlockDevice {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private boolean frozen;
    private String released;
    private int inFlight;
    private int waiting;
    private long heldTotal;

    public FreezableDevice(BlockDevice delegate) {
        super(delegate);
    }

    @Override
    public int write(ByteBuffer src, long offsetBytes) throws IOException {
        lock.lock();
        try {
            boolean counted = false;
            try {
                while (frozen && released == null) {
                    if (!counted) {
                        counted = true;
                        waiting++;
                        heldTotal++;
                    }
                    changed.await();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("could not write " + src.remaining() + " bytes at offset "
                        + offsetBytes + " of " + delegate + ": interrupted while the device was frozen");
            } finally {
                if (counted) {
                    waiting--;
                }
            }
            if (released != null) {
                throw new IOException(
                        "could not write " + src.remaining() + " bytes at offset " + offsetBytes + ": " + released);
            }
            inFlight++;
        } finally {
            lock.unlock();
        }
        try {
            return delegate.write(src, offsetBytes);
        } finally {
            lock.lock();
            try {
                if (--inFlight == 0) {
                    changed.signalAll();
                }
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Holds every later write, and returns once the writes already under way have reached the device below.
     * Idempotent.
     */
    public void freeze() throws InterruptedException {
        lock.lock();
        try {
            frozen = true;
            while (inFlight > 0) {
                changed.await();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Lets held and later writes through again. Idempotent. */
    public void thaw() {
        lock.lock();
        try {
            frozen = false;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Fails held and later writes with {@code could not write …: <reason>} (the device's contents went elsewhere), e.g.
     * "the device moved to 10.0.0.2:1337". Reads still pass until {@link #close()}.
     */
    public void release(String reason) {
        lock.lock();
        try {
            if (released == null) {
                released = reason;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Whether writes are held now. */
    public boolean frozen() {
        lock.lock();
        try {
            return frozen && released == null;
        } finally {
            lock.unlock();
        }
    }

    /** Writes waiting at the freeze now. */
    public int waitingWrites() {
        lock.lock();
        try {
            return waiting;
        } finally {
            lock.unlock();
        }
    }

    /** Writes that ever had to wait at a freeze. */
    public long heldWritesTotal() {
        lock.lock();
        try {
            return heldTotal;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() throws IOException {
        release("the device is closed");
        delegate.close();
    }
}
