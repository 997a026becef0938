package io.drafter.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.net.testing.InNetns;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Nat} and {@link Forwarder} on real namespaces, veths and nftables, with guest stand-ins (a namespace
 * holding 172.16.0.2 behind a veth in place of {@code tap0}). Needs root; skips otherwise.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NatTest {
    private static final int GUEST_PORT = 7000;
    private static final int UPSTREAM_PORT = 7001;

    @TempDir
    Path stateDir;

    private NetLab lab;

    @BeforeEach
    void setUp() {
        NetLab.assumeNetworkingAvailable();
        lab = new NetLab(stateDir).withUpstream();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (lab != null) {
            lab.close();
            assertEquals(List.of(), lab.leftovers(), "left behind after the test");
            assertEquals(lab.ipForwardAtStart, NetLab.ipForward(), "net.ipv4.ip_forward restored");
        }
    }

    @Test
    void twoGuestsWithIdenticalAddressesAreReachableThroughOuterAddressesAndForwards() throws Exception {
        Nat nat = lab.closeLater(Nat.create(lab.natConfig(2), lab.runner));
        List<NamespaceLayout> ns = nat.namespaces();
        assertEquals(
                List.of(lab.prefix + "0", lab.prefix + "1"),
                ns.stream().map(NamespaceLayout::name).toList());
        for (NamespaceLayout l : ns) {
            String guest = lab.addGuest(l.name());
            lab.serveIdentity(guest, "172.16.0.2", GUEST_PORT, "guest-" + l.index());
        }

        // through each namespace's outer address
        for (NamespaceLayout l : ns) {
            String outer = Ipv4Cidr.formatAddress(l.namespaceIp());
            lab.assertRoutedInsideLab(outer);
            assertTrue(NetLab.ask(outer, GUEST_PORT).startsWith("guest-" + l.index() + " "), outer);
        }

        // through loopback and non-loopback forwards, both namespaces at once
        int p0 = NetLab.freeLoopbackPort();
        int p1 = NetLab.freeLoopbackPort();
        int p2 = NetLab.freeLoopbackPort();
        String json = "[" + forward(lab.prefix + "0", "127.0.0.1:" + p0) + ","
                + forward(lab.prefix + "1", "127.0.0.1:" + p1) + ","
                + forward(lab.prefix + "1", NetLab.UPSTREAM_HOST_IP + ":" + p2) + "]";
        try (Forwarder fwd =
                Forwarder.open(PortForward.parseList(json), Ipv4Cidr.parse(NetLab.HOST_VETH_CIDR), lab.runner)) {
            assertEquals(3, fwd.forwards().size());
            assertTrue(NetLab.ask("127.0.0.1", p0).startsWith("guest-0 "));
            assertTrue(NetLab.ask("127.0.0.1", p1).startsWith("guest-1 "));
            assertTrue(NetLab.ask(NetLab.UPSTREAM_HOST_IP, p2).startsWith("guest-1 "));
            // a client on the far side of the host interface (prerouting DNAT)
            assertTrue(
                    NetLab.askFrom(lab.upstreamNs, NetLab.UPSTREAM_HOST_IP, p2).startsWith("guest-1 "));
        }

        // udp through a loopback forward
        DatagramChannel udpGuest = lab.closeLater(InNetns.call(
                ns.getFirst().name() + "g",
                () -> DatagramChannel.open().bind(new InetSocketAddress("172.16.0.2", GUEST_PORT))));
        Thread.ofPlatform().daemon().name("udp-echo").start(() -> {
            ByteBuffer b = ByteBuffer.allocate(64);
            try {
                while (udpGuest.isOpen()) {
                    SocketAddress from = udpGuest.receive(b.clear());
                    udpGuest.send(b.flip(), from);
                }
            } catch (IOException e) {
                // closed by the lab
            }
        });
        int pu = NetLab.freeLoopbackPort();
        String udpJson = "[{\"netns\":\"" + lab.prefix + "0\",\"internalPort\":\"" + GUEST_PORT
                + "\",\"protocol\":\"udp\",\"externalAddr\":\"127.0.0.1:" + pu + "\"}]";
        try (Forwarder fwd = Forwarder.open(
                        PortForward.parseList(udpJson), Ipv4Cidr.parse(NetLab.HOST_VETH_CIDR), lab.runner);
                DatagramSocket client = new DatagramSocket()) {
            client.connect(new InetSocketAddress("127.0.0.1", pu));
            client.setSoTimeout(5_000);
            byte[] ping = "ping".getBytes(StandardCharsets.UTF_8);
            client.send(new DatagramPacket(ping, ping.length));
            DatagramPacket reply = new DatagramPacket(new byte[16], 16);
            client.receive(reply);
            assertEquals("ping", new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8));
            assertEquals(1, fwd.forwards().size());
        }
        assertTrue(
                new Host(lab.runner).ipTables().stream().noneMatch(t -> t.startsWith(ownTablePrefix())),
                "forwarder table removed on close");

        // guest-initiated traffic leaves masqueraded with the host interface's address
        lab.serveIdentity(lab.upstreamNs, NetLab.UPSTREAM_IP, UPSTREAM_PORT, "upstream");
        lab.assertRoutedInsideLab(NetLab.UPSTREAM_IP);
        for (NamespaceLayout l : ns) {
            assertEquals(
                    "upstream " + NetLab.UPSTREAM_HOST_IP,
                    NetLab.askFrom(l.name() + "g", NetLab.UPSTREAM_IP, UPSTREAM_PORT));
        }

        // namespaces are isolated from each other: guest 0 cannot reach guest 1 through its outer address
        String outer1 = Ipv4Cidr.formatAddress(ns.get(1).namespaceIp());
        assertThrows(
                java.net.SocketTimeoutException.class,
                () -> NetLab.askFrom(ns.get(0).name() + "g", outer1, GUEST_PORT, 1_000));

        nat.close();
        lab.assertNatGone();
    }

    @Test
    void aConnectionKeptOpenFollowsItsGuestToAnotherNamespaceAndBack() throws Exception {
        Nat nat = lab.closeLater(Nat.create(lab.natConfig(2), lab.runner));
        String ns0 = nat.namespaces().get(0).name();
        String ns1 = nat.namespaces().get(1).name();
        String guest = lab.addRoamingGuest(List.of(ns0, ns1));
        ServerSocketChannel server = lab.closeLater(InNetns.call(guest, () -> {
            ServerSocketChannel s = ServerSocketChannel.open();
            s.bind(new InetSocketAddress("172.16.0.2", GUEST_PORT));
            return s;
        }));
        CompletableFuture<SocketChannel> accepted = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("guest-echo").start(() -> {
            try (SocketChannel c = server.accept()) {
                accepted.complete(c);
                ByteBuffer b = ByteBuffer.allocate(64 * 1024);
                while (c.read(b.clear()) > 0) {
                    b.flip();
                    while (b.hasRemaining()) {
                        c.write(b);
                    }
                }
            } catch (IOException e) {
                accepted.completeExceptionally(e);
            }
        });
        int port = NetLab.freeLoopbackPort();
        Ipv4Cidr pool = Ipv4Cidr.parse(NetLab.HOST_VETH_CIDR);
        Forwarder fwd = Forwarder.open(forwardTo(ns0, port), pool, lab.runner);
        try (Socket client = new Socket("127.0.0.1", port)) {
            client.setSoTimeout(10_000);
            SocketChannel inGuest = accepted.get(10, TimeUnit.SECONDS);
            // Enough bytes at each place that the sequence numbers move far beyond what the other place tracked.
            echo(client, 16);
            for (String to : List.of(ns1, ns0, ns1)) {
                // As a destination peer does: the next forward is made ahead, dormant, while this one still holds the
                // address, and woken after the move.
                Forwarder.Plan next = Forwarder.plan(forwardTo(to, port), pool, lab.runner);
                next.stage();
                fwd.close();
                lab.moveGuest(guest, to.equals(ns0) ? 0 : 1);
                Nat.forgetTrackedFlows(to, lab.runner);
                // Like a VM that runs before its forward is in place: the guest sends first, from its new place.
                inGuest.write(ByteBuffer.wrap("moved\n".getBytes(StandardCharsets.UTF_8)));
                fwd = next.install();
                // The client's next packet makes the new place track the connection; the guest's retransmission
                // then gets through.
                client.getOutputStream().write("ping\n".getBytes(StandardCharsets.UTF_8));
                assertEquals(
                        "moved\nping\n", new String(client.getInputStream().readNBytes(11), StandardCharsets.UTF_8));
                echo(client, 16);
            }
        } finally {
            fwd.close();
        }
        nat.close();
        lab.assertNatGone();
    }

    private static List<PortForward> forwardTo(String netns, int port) {
        return PortForward.parseList("[" + forward(netns, "127.0.0.1:" + port) + "]");
    }

    /** Sends {@code mib} MiB over {@code client} in 64 KiB pieces, each echoed back whole before the next. */
    private static void echo(Socket client, int mib) throws IOException {
        byte[] out = new byte[64 * 1024];
        byte[] in = new byte[out.length];
        for (int i = 0; i < mib * 16; i++) {
            java.util.Arrays.fill(out, (byte) i);
            client.getOutputStream().write(out);
            client.getInputStream().readNBytes(in, 0, in.length);
            assertTrue(java.util.Arrays.equals(out, in), "piece " + i + " echoed unchanged");
        }
    }

    @Test
    void refusesWhatIsAlreadyThereAndLeavesNothing() throws Exception {
        try (Nat nat = Nat.create(lab.natConfig(1), lab.runner)) {
            NetException again = assertThrows(NetException.class, () -> Nat.create(lab.natConfig(1), lab.runner));
            assertTrue(again.getMessage().startsWith("could not create namespaces with prefix"), again.getMessage());
            assertEquals(1, nat.namespaces().size());
        }
        lab.assertNatGone();
    }

    @Test
    void unknownHostInterfaceIsOneLineAndCreatesNothing() {
        NatConfig config =
                lab.natConfig(1).toBuilder().hostInterface(lab.prefix + "nope").build();
        NetException e = assertThrows(NetException.class, () -> Nat.create(config, lab.runner));
        assertEquals("could not use host interface '" + lab.prefix + "nope': no such interface", e.getMessage());
        lab.assertNatGone();
    }

    @Test
    void addressRangeInUseIsOneLineAndCreatesNothing() {
        // the lab's upstream link holds 10.231.200.1/30; ask for a namespace pool that covers it
        NatConfig config = lab.natConfig(1).toBuilder()
                .namespaceVethCidr(Ipv4Cidr.parse("10.231.200.0/28"))
                .build();
        NetException e = assertThrows(NetException.class, () -> Nat.create(config, lab.runner));
        assertTrue(e.getMessage().startsWith("could not use 10.231.200.0/28: address 10.231.200.1"), e.getMessage());
        assertTrue(e.getMessage().endsWith("already in use"), e.getMessage());
        lab.assertNatGone();
    }

    @Test
    void failureHalfWayRemovesEverythingCreatedSoFar() {
        // a multicast MAC passes our checks but `ip` rejects it while setting up the first namespace, after the
        // host table, both namespaces and their veths exist: all of that must be rolled back
        NatConfig config = lab.natConfig(2).toBuilder()
                .namespaceInterfaceMac("01:00:5e:00:00:01")
                .build();
        NetException e = assertThrows(NetException.class, () -> Nat.create(config, lab.runner));
        assertTrue(e.getMessage().startsWith("could not set up namespace " + lab.prefix + "0"), e.getMessage());
        lab.assertNatGone();
    }

    @Test
    void forwarderErrorsAreOneLineAndInstallNothing() throws Exception {
        try (Nat nat = Nat.create(lab.natConfig(1), lab.runner)) {
            String ns = nat.namespaces().getFirst().name();
            Ipv4Cidr pool = Ipv4Cidr.parse(NetLab.HOST_VETH_CIDR);

            NetException missing = assertThrows(
                    NetException.class,
                    () -> Forwarder.open(
                            PortForward.parseList("[" + forward(lab.prefix + "9", "127.0.0.1:3333") + "]"),
                            pool,
                            lab.runner));
            assertEquals(
                    "could not forward to namespace " + lab.prefix + "9: no such namespace (is drafter nat running?)",
                    missing.getMessage());

            try (var busy = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                int port = busy.getLocalPort();
                NetException inUse = assertThrows(
                        NetException.class,
                        () -> Forwarder.open(
                                PortForward.parseList("[" + forward(ns, "127.0.0.1:" + port) + "]"), pool, lab.runner));
                assertEquals("could not forward 127.0.0.1:" + port + ": address already in use", inUse.getMessage());
            }

            int port = NetLab.freeLoopbackPort();
            try (Forwarder first = Forwarder.open(
                    PortForward.parseList("[" + forward(ns, "127.0.0.1:" + port) + "]"), pool, lab.runner)) {
                // a second forwarder process would own another table; simulate its view by asking for the same
                // address again: the rule of the first is found
                NetException taken = assertThrows(
                        NetException.class,
                        () -> Forwarder.open(
                                PortForward.parseList("[" + forward(ns, "127.0.0.1:" + port) + "]"), pool, lab.runner));
                assertTrue(
                        taken.getMessage().contains("already in use by another drafter forwarder"), taken.getMessage());
                assertTrue(first.table().startsWith(ownTablePrefix()), first.table());
                // a second forwarder of the same process, on another address, gets a table of its own
                int other = NetLab.freeLoopbackPort();
                try (Forwarder second = Forwarder.open(
                        PortForward.parseList("[" + forward(ns, "127.0.0.1:" + other) + "]"), pool, lab.runner)) {
                    assertTrue(second.table().startsWith(ownTablePrefix()), second.table());
                    assertTrue(!second.table().equals(first.table()));
                }
            }

            NetException notLocal = assertThrows(
                    NetException.class,
                    () -> Forwarder.open(
                            PortForward.parseList("[" + forward(ns, NetLab.UPSTREAM_IP + ":3333") + "]"),
                            pool,
                            lab.runner));
            assertEquals(
                    "could not forward " + NetLab.UPSTREAM_IP + ":3333: " + NetLab.UPSTREAM_IP
                            + " is not an address of this host",
                    notLocal.getMessage());
            assertTrue(new Host(lab.runner).ipTables().stream().noneMatch(t -> t.startsWith(ownTablePrefix())));
        }
        lab.assertNatGone();
    }

    /** A peer taking a VM over plans its forward while the source still holds the address, and installs it after. */
    @Test
    void aForwardPlannedWhileTheAddressIsTakenInstallsOnceItIsFree() throws Exception {
        try (Nat nat = Nat.create(lab.natConfig(1), lab.runner)) {
            String ns = nat.namespaces().getFirst().name();
            Ipv4Cidr pool = Ipv4Cidr.parse(NetLab.HOST_VETH_CIDR);
            int port = NetLab.freeLoopbackPort();
            List<PortForward> forwards = PortForward.parseList("[" + forward(ns, "127.0.0.1:" + port) + "]");
            Forwarder first = Forwarder.open(forwards, pool, lab.runner);
            Forwarder.Plan plan;
            try {
                plan = Forwarder.plan(forwards, pool, lab.runner);
                assertEquals(1, plan.forwards().size());
                AddressInUseException taken = assertThrows(AddressInUseException.class, plan::install);
                assertTrue(taken.getMessage().endsWith("(nft table " + first.table() + ")"), taken.getMessage());
            } finally {
                first.close();
            }
            try (Forwarder second = plan.install()) {
                assertTrue(new Host(lab.runner)
                        .ipTable(second.table())
                        .orElseThrow()
                        .contains("dport " + port));
            }

            // Made ahead: dormant while the other forwarder holds the address, woken once it is gone.
            Forwarder holder = Forwarder.open(forwards, pool, lab.runner);
            try (Forwarder.Plan staged = Forwarder.plan(forwards, pool, lab.runner)) {
                staged.stage();
                List<String> own = ownTables();
                assertEquals(2, own.size(), own.toString());
                String made = own.stream()
                        .filter(t -> !t.equals(holder.table()))
                        .findFirst()
                        .orElseThrow();
                assertTrue(new Host(lab.runner).ipTable(made).orElseThrow().contains("flags dormant"));
                AddressInUseException taken = assertThrows(AddressInUseException.class, staged::install);
                assertTrue(taken.getMessage().endsWith("(nft table " + holder.table() + ")"), taken.getMessage());
                holder.close();
                try (Forwarder woken = staged.install()) {
                    assertEquals(made, woken.table());
                    String text = new Host(lab.runner).ipTable(made).orElseThrow();
                    assertFalse(text.contains("dormant"), text);
                    assertTrue(text.contains("dport " + port), text);
                }
            }
            // One made ahead and never installed goes with its plan.
            Forwarder.Plan dropped = Forwarder.plan(forwards, pool, lab.runner);
            dropped.stage();
            assertEquals(1, ownTables().size());
            dropped.close();
            assertEquals(List.of(), ownTables());
            NetException missing = assertThrows(
                    NetException.class,
                    () -> Forwarder.plan(
                            PortForward.parseList("[" + forward(lab.prefix + "9", "127.0.0.1:" + port) + "]"),
                            pool,
                            lab.runner));
            assertTrue(missing.getMessage().endsWith("no such namespace (is drafter nat running?)"));
            assertTrue(new Host(lab.runner).ipTables().stream().noneMatch(t -> t.startsWith(ownTablePrefix())));
        }
        lab.assertNatGone();
    }

    private List<String> ownTables() {
        return new Host(lab.runner)
                .ipTables().stream().filter(t -> t.startsWith(ownTablePrefix())).toList();
    }

    static String ownTablePrefix() {
        return Forwarder.TABLE_PREFIX + ProcessHandle.current().pid() + "_";
    }

    static String forward(String netns, String externalAddr) {
        return "{\"netns\":\"" + netns + "\",\"internalPort\":\"" + GUEST_PORT
                + "\",\"protocol\":\"tcp\",\"externalAddr\":\"" + externalAddr + "\"}";
    }
}
