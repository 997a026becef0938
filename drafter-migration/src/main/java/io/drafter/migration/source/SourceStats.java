package io.drafter.migration.source;

import io.drafter.migration.DeviceTraffic;
import io.drafter.migration.protocol.Frame;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What the source counts while it migrates, and the {@link SourceCounters} snapshot of it.
 *
 * <p><b>Note:</b> one writer per counter, any number of readers: the engine's agent counts blocks, rounds and the
 * hand-over's times, the suspend hook's thread notes its return; {@link #snapshot} may run on any thread. The block
 * counters are atomic, the rest volatile.
 */
final class SourceStats {
    private final AtomicLong blocksSent = new AtomicLong();
    private final AtomicLong zeroBlocks = new AtomicLong();
    private final AtomicLong compressedBlocks = new AtomicLong();
    private final AtomicLong dataBytesRead = new AtomicLong();
    private final AtomicLong priorityBlocks = new AtomicLong();
    private final List<String> devices;
    private final AtomicLongArray deviceBlocks;
    private final AtomicLongArray deviceZeroBlocks;
    private final AtomicLongArray deviceBytes;
    private final List<List<Integer>> dirtyPerRound = new ArrayList<>();
    private volatile int rounds;
    private volatile long suspendReturnedNs;
    private volatile long authorityAckNs;
    private volatile long grantNs;

    /** Counters for the devices named {@code devices}, in their order. */
    SourceStats(List<String> devices) {
        this.devices = List.copyOf(devices);
        this.deviceBlocks = new AtomicLongArray(devices.size());
        this.deviceZeroBlocks = new AtomicLongArray(devices.size());
        this.deviceBytes = new AtomicLongArray(devices.size());
        for (int i = 0; i < devices.size(); i++) {
            dirtyPerRound.add(Collections.synchronizedList(new ArrayList<>()));
        }
    }

    /** A block of {@code length} bytes was read to be sent; {@code priority}: the destination asked for it. */
    void blockRead(int length, boolean priority) {
        dataBytesRead.addAndGet(length);
        if (priority) {
            priorityBlocks.incrementAndGet();
        }
    }

    /** A BLOCK frame goes out (counted as it is handed to the writer). */
    void blockFrame(Frame.BlockData f) {
        blocksSent.incrementAndGet();
        deviceBlocks.incrementAndGet(f.device());
        deviceBytes.addAndGet(f.device(), f.data().remaining());
        if (f.encoding() == Frame.BlockData.ZSTD) {
            compressedBlocks.incrementAndGet();
        }
    }

    /** A ZERO frame went out (counted once written). */
    void zeroFrameSent(Frame.ZeroBlocks f) {
        zeroBlocks.incrementAndGet();
        deviceZeroBlocks.addAndGet(f.device(), f.count());
    }

    /** A dirty round (or the final one) of {@code dirtyBlocks} blocks started on device {@code device}. */
    void round(int device, int dirtyBlocks) {
        rounds = rounds + 1; // one writer: the agent
        dirtyPerRound.get(device).add(dirtyBlocks);
    }

    /** The suspend hook returned. */
    void suspendReturned(long nowNs) {
        suspendReturnedNs = nowNs;
    }

    /** The destination acknowledged AUTHORITY. */
    void authorityAcknowledged(long nowNs) {
        authorityAckNs = nowNs;
    }

    /** The GRANT was handed to the writer. */
    void granted(long nowNs) {
        grantNs = nowNs;
    }

    /** A snapshot, with the bytes the link wrote and the time spent in each phase. */
    SourceCounters snapshot(long bytesSent, Map<SourcePhase, Duration> phaseTimes) {
        Map<String, List<Integer>> perRound = new LinkedHashMap<>();
        for (int i = 0; i < devices.size(); i++) {
            perRound.put(devices.get(i), List.copyOf(dirtyPerRound.get(i)));
        }
        Map<String, DeviceTraffic> perDevice = new LinkedHashMap<>();
        for (int i = 0; i < devices.size(); i++) {
            perDevice.put(
                    devices.get(i),
                    new DeviceTraffic(deviceBlocks.get(i), deviceZeroBlocks.get(i), deviceBytes.get(i)));
        }
        Duration s2a = suspendReturnedNs != 0 && authorityAckNs != 0
                ? Duration.ofNanos(authorityAckNs - suspendReturnedNs)
                : null;
        Duration s2g = suspendReturnedNs != 0 && grantNs != 0 ? Duration.ofNanos(grantNs - suspendReturnedNs) : null;
        return new SourceCounters(
                bytesSent,
                blocksSent.get(),
                zeroBlocks.get(),
                compressedBlocks.get(),
                dataBytesRead.get(),
                priorityBlocks.get(),
                rounds,
                perRound,
                phaseTimes,
                s2a,
                s2g,
                perDevice);
    }
}
