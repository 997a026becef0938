package io.drafter.net;

import static io.drafter.net.Ipv4Cidr.formatAddress;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class NatConfigTest {
    @Test
    void defaultsMatchDrafter() {
        NatConfig c = NatConfig.defaults();
        assertEquals(252, c.count(), "min(256, usable namespace addresses - 2)");
        List<NamespaceLayout> all = c.layouts();
        NamespaceLayout first = all.getFirst();
        assertEquals("ark0", first.name());
        assertEquals("ark0-veth0", first.insideVeth());
        assertEquals("ark0-veth1", first.outsideVeth());
        assertEquals("10.0.8.1", formatAddress(first.insideVethIp()));
        assertEquals("10.0.8.2", formatAddress(first.outsideVethIp()));
        assertEquals("10.0.15.1", formatAddress(first.namespaceIp()));
        NamespaceLayout third = all.get(2);
        assertEquals("10.0.8.9", formatAddress(third.insideVethIp()));
        assertEquals("10.0.15.3", formatAddress(third.namespaceIp()));
        assertEquals("drafter_nat_ark", c.hostTable());
        assertEquals(
                "ark0: tap0 172.16.0.1/30 (guest 172.16.0.2), veth ark0-veth0 10.0.8.1/30 <-> ark0-veth1 "
                        + "10.0.8.2/30, outer address 10.0.15.1",
                first.describe(c));
    }

    @Test
    void everyNamespaceGetsDistinctAddresses() {
        Set<Integer> seen = new HashSet<>();
        for (NamespaceLayout l : NatConfig.defaults().layouts()) {
            assertTrue(seen.add(l.insideVethIp()));
            assertTrue(seen.add(l.outsideVethIp()));
            assertTrue(seen.add(l.namespaceIp()));
        }
    }

    @Test
    void rejectsImpossibleLayouts() {
        NatConfig d = NatConfig.defaults();
        assertEquals(
                "host veth CIDR 10.0.8.0/29 has only 2 /30 prefixes for 3 namespaces",
                assertThrows(IllegalArgumentException.class, () -> with(d, "10.0.8.0/29", "10.0.15.0/24", "ark", 3))
                        .getMessage());
        assertEquals(
                "host veth CIDR 10.0.8.0/22 overlaps namespace veth CIDR 10.0.0.0/16",
                assertThrows(IllegalArgumentException.class, () -> with(d, "10.0.8.0/22", "10.0.0.0/16", "ark", 1))
                        .getMessage());
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> with(d, "10.0.8.0/22", "10.0.15.0/24", "averylongprefix", 2))
                .getMessage()
                .contains("longer than 15 characters"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> with(d, "10.0.8.0/22", "10.0.15.0/24", "a/b", 2))
                .getMessage()
                .startsWith("namespace prefix 'a/b'"));
        assertEquals(
                "host veth CIDR 10.0.8.0/31 must be /30 or larger",
                assertThrows(IllegalArgumentException.class, () -> with(d, "10.0.8.0/31", "10.0.15.0/24", "ark", 1))
                        .getMessage());
    }

    @Test
    void rulesAreValidNftAndDnatBothNamespaceAddressesToTheGuest() {
        NatConfig c = NatConfig.defaults();
        NamespaceLayout first = c.layouts().getFirst();
        String inside = Nat.namespaceRules(c, first);
        assertTrue(inside.contains("iifname \"ark0-veth0\" ip daddr 10.0.15.1 dnat to 172.16.0.2"), inside);
        assertTrue(inside.contains("ip daddr 10.0.8.1 dnat to 172.16.0.2"), inside);
        assertTrue(inside.contains("oifname \"ark0-veth0\" ip saddr 172.16.0.2 snat to 10.0.15.1"), inside);
        // A guest resumed here after a migration does not get a reset for a connection not yet tracked here.
        assertTrue(
                inside.contains("iifname \"tap0\" ip daddr 172.16.0.1 tcp flags & (syn | rst) == 0 ct state new drop"),
                inside);
        String host = Nat.hostRules(c, "eth0");
        assertTrue(host.contains("oifname \"eth0\" ip saddr { 10.0.15.0/24, 10.0.8.0/22 } masquerade"), host);
        assertTrue(host.startsWith("table ip drafter_nat_ark {"), host);
        // nft --check parses and validates without changing anything; needs CAP_NET_ADMIN
        CommandRunner runner = new CommandRunner();
        assumeTrue(
                Host.effectiveUid() == 0 && runner.attempt("nft", "--version").ok(), "nft --check needs root and nft");
        runner.run("check host rules", List.of("nft", "--check", "-f", "-"), host);
        runner.run("check namespace rules", List.of("nft", "--check", "-f", "-"), inside);
    }

    static NatConfig with(NatConfig d, String hostCidr, String nsCidr, String prefix, int count) {
        return d.toBuilder()
                .hostVethCidr(Ipv4Cidr.parse(hostCidr))
                .namespaceVethCidr(Ipv4Cidr.parse(nsCidr))
                .blockedSubnetCidr(Ipv4Cidr.parse(nsCidr))
                .namespacePrefix(prefix)
                .namespaceCount(count)
                .build();
    }
}
