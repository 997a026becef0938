package io.drafter.migration.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.drafter.migration.DeviceTraffic;
import io.drafter.migration.protocol.Frame;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the source counts, and the snapshot it hands out. */
class SourceStatsTest {
    @Test
    void countsBlocksByHowTheyWent() {
        SourceStats s = new SourceStats(List.of("disk", "memory"));
        s.blockRead(4096, false);
        s.blockFrame(new Frame.BlockData(0, 1, Frame.BlockData.RAW, 4096, ByteBuffer.allocate(4096)));
        s.blockRead(4096, true);
        s.blockFrame(new Frame.BlockData(0, 2, Frame.BlockData.ZSTD, 4096, ByteBuffer.allocate(10)));
        s.blockRead(100, false);
        s.zeroFrameSent(new Frame.ZeroBlocks(1, 5, 1));
        SourceCounters c = s.snapshot(9000, Map.of());
        assertEquals(9000, c.bytesSent());
        assertEquals(2, c.blocksSent());
        assertEquals(1, c.compressedBlocks());
        assertEquals(1, c.zeroBlocks());
        assertEquals(8292, c.dataBytesRead());
        assertEquals(1, c.priorityBlocks());
        assertEquals(
                Map.of("disk", new DeviceTraffic(2, 0, 4106), "memory", new DeviceTraffic(0, 1, 0)),
                c.perDevice(),
                "per device: blocks with their data as sent (compressed), zero blocks");
        assertEquals(List.of("disk", "memory"), List.copyOf(c.perDevice().keySet()));
    }

    @Test
    void keepsEachDevicesRoundsInOrder() {
        SourceStats s = new SourceStats(List.of("disk", "memory"));
        s.round(0, 7);
        s.round(1, 3);
        s.round(0, 1);
        SourceCounters c = s.snapshot(0, Map.of());
        assertEquals(3, c.rounds());
        assertEquals(Map.of("disk", List.of(7, 1), "memory", List.of(3)), c.dirtyPerRound());
        assertEquals(List.of("disk", "memory"), List.copyOf(c.dirtyPerRound().keySet()));
    }

    @Test
    void measuresTheHandOverFromTheSuspension() {
        SourceStats s = new SourceStats(List.of("disk"));
        assertNull(s.snapshot(0, Map.of()).suspendToAuthority());
        s.suspendReturned(1_000);
        s.authorityAcknowledged(3_000);
        assertNull(s.snapshot(0, Map.of()).suspendToGrant(), "no grant yet");
        s.granted(10_000);
        SourceCounters c = s.snapshot(0, Map.of());
        assertEquals(Duration.ofNanos(2_000), c.suspendToAuthority());
        assertEquals(Duration.ofNanos(9_000), c.suspendToGrant());
    }
}
