package io.drafter.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class Ipv4CidrTest {
    @Test
    void parsesAndFormats() {
        Ipv4Cidr c = Ipv4Cidr.parse("10.0.8.0/22");
        assertEquals("10.0.8.0/22", c.toString());
        assertEquals(1024, c.size());
        assertEquals(1022, c.usableHosts());
        assertEquals(256, c.subnetCount(30));
        assertEquals("10.0.11.252/30", c.subnet(30, 255).toString());
        assertEquals("10.0.8.5", Ipv4Cidr.formatAddress(c.subnet(30, 1).address(1)));
        assertTrue(c.contains(Ipv4Cidr.parseAddress("10.0.11.255")));
        assertFalse(c.contains(Ipv4Cidr.parseAddress("10.0.12.0")));
        assertEquals("255.255.255.255", Ipv4Cidr.formatAddress(Ipv4Cidr.parseAddress("255.255.255.255")));
    }

    @Test
    void overlaps() {
        assertTrue(Ipv4Cidr.parse("10.0.0.0/8").overlaps(Ipv4Cidr.parse("10.0.15.0/24")));
        assertTrue(Ipv4Cidr.parse("10.0.15.0/24").overlaps(Ipv4Cidr.parse("10.0.0.0/8")));
        assertFalse(Ipv4Cidr.parse("10.0.8.0/22").overlaps(Ipv4Cidr.parse("10.0.15.0/24")));
        assertTrue(Ipv4Cidr.parse("0.0.0.0/0").overlaps(Ipv4Cidr.parse("192.0.2.1/32")));
    }

    @ParameterizedTest
    @ValueSource(
            strings = {"10.0.8.0", "10.0.8.0/33", "10.0.8.1/22", "10.0.8/22", "10.0.8.256/32", "a.b.c.d/8", "10.0.8.0/x"
            })
    void rejectsMalformedWithOneLine(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Ipv4Cidr.parse(text));
        assertFalse(e.getMessage().contains("\n"));
    }

    /** Model check over seeded random prefixes: contains/overlaps agree with brute-force range arithmetic. */
    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 42, 2026})
    void agreesWithRangeModel(long seed) {
        Random r = new Random(seed);
        for (int i = 0; i < 2000; i++) {
            Ipv4Cidr a = random(r);
            Ipv4Cidr b = random(r);
            long aLo = Integer.toUnsignedLong(a.network());
            long aHi = aLo + a.size() - 1;
            long bLo = Integer.toUnsignedLong(b.network());
            long bHi = bLo + b.size() - 1;
            assertEquals(aLo <= bHi && bLo <= aHi, a.overlaps(b), "seed " + seed + ": " + a + " vs " + b);
            long probe = Integer.toUnsignedLong(r.nextInt());
            assertEquals(probe >= aLo && probe <= aHi, a.contains((int) probe), "seed " + seed + ": " + a);
        }
    }

    private static Ipv4Cidr random(Random r) {
        int len = 8 + r.nextInt(25);
        int mask = len == 0 ? 0 : -1 << (32 - len);
        return new Ipv4Cidr((0x0a000000 | (r.nextInt() & 0x00ffffff)) & mask, len);
    }
}
