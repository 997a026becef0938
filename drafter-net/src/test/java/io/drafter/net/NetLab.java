package io.drafter.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.net.testing.InNetns;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A disposable test network: a random namespace prefix, private address ranges, an "upstream" namespace behind a
 * veth that plays the host interface, and guest stand-ins (a namespace holding 172.16.0.2 behind a veth that
 * replaces {@code tap0}). Every object it creates carries the prefix, and {@link #close()} removes all of it.
 * Only loopback and addresses inside these namespaces are ever contacted.
 */
final class NetLab implements AutoCloseable {
    static final String HOST_VETH_CIDR = "10.231.8.0/28";
    static final String NAMESPACE_CIDR = "10.231.15.0/28";
    static final String UPSTREAM_HOST_IP = "10.231.200.1";
    static final String UPSTREAM_IP = "10.231.200.2";
    /** Every port {@link #freeLoopbackPort} returned in this JVM. */
    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    final CommandRunner runner = new CommandRunner();
    final String prefix;
    final String upstreamNs;
    final String upstreamLink;
    final Path stateDir;
    /** {@code net.ipv4.ip_forward} when the lab was made; a NAT that turned it on must turn it off again. */
    final String ipForwardAtStart;

    private final List<String> guestNamespaces = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    /** Skips the calling test unless it runs as root with ip and nft available. */
    static void assumeNetworkingAvailable() {
        assumeTrue(Host.effectiveUid() == 0, "needs root to create network namespaces");
        CommandRunner r = new CommandRunner();
        assumeTrue(r.attempt("ip", "-V").ok(), "needs iproute2 (ip)");
        assumeTrue(r.attempt("nft", "--version").ok(), "needs nftables (nft); run scripts/install-deps.sh");
    }

    NetLab(Path stateDir) {
        Random random = new Random();
        StringBuilder p = new StringBuilder("dt");
        for (int i = 0; i < 3; i++) {
            p.append((char) ('a' + random.nextInt(26)));
        }
        this.prefix = p.toString();
        this.upstreamNs = prefix + "up";
        this.upstreamLink = prefix + "uplink";
        this.stateDir = stateDir;
        this.ipForwardAtStart = ipForward();
    }

    static String ipForward() {
        try {
            return java.nio.file.Files.readString(Path.of("/proc/sys/net/ipv4/ip_forward"))
                    .strip();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Creates the upstream namespace; the host end of its veth is the NAT's host interface. */
    NetLab withUpstream() {
        runner.run(
                "create upstream",
                List.of("ip", "-batch", "-"),
                "netns add " + upstreamNs + "\n"
                        + "link add " + upstreamLink + " type veth peer name eth0 netns " + upstreamNs + "\n"
                        + "addr add " + UPSTREAM_HOST_IP + "/30 dev " + upstreamLink + "\n"
                        + "link set " + upstreamLink + " up\n");
        runner.run(
                "configure upstream",
                List.of("ip", "-n", upstreamNs, "-batch", "-"),
                "link set lo up\naddr add " + UPSTREAM_IP + "/30 dev eth0\nlink set eth0 up\n");
        return this;
    }

    /** A NAT configuration for this lab: its prefix, its ranges, {@code count} namespaces. */
    NatConfig natConfig(int count) {
        return NatConfig.builder()
                .hostInterface(upstreamLink)
                .hostVethCidr(Ipv4Cidr.parse(HOST_VETH_CIDR))
                .namespaceVethCidr(Ipv4Cidr.parse(NAMESPACE_CIDR))
                .blockedSubnetCidr(Ipv4Cidr.parse(NAMESPACE_CIDR))
                .namespacePrefix(prefix)
                .namespaceCount(count)
                .stateDir(stateDir)
                .build();
    }

    /**
     * Replaces {@code tap0} in NAT namespace {@code natNs} by a veth whose other end, {@code eth0} with
     * 172.16.0.2/30, sits in a new guest namespace; returns that namespace's name.
     */
    String addGuest(String natNs) {
        String guest = natNs + "g";
        guestNamespaces.add(guest);
        runner.run("add guest namespace", List.of("ip", "netns", "add", guest));
        runner.run(
                "replace tap0 in " + natNs,
                List.of("ip", "-n", natNs, "-batch", "-"),
                "link del tap0\n"
                        + "link add tap0 type veth peer name eth0 netns " + guest + "\n"
                        + "addr add 172.16.0.1/30 dev tap0\n"
                        + "link set tap0 up\n");
        runner.run(
                "configure guest " + guest,
                List.of("ip", "-n", guest, "-batch", "-"),
                "link set lo up\naddr add 172.16.0.2/30 dev eth0\nlink set eth0 up\n"
                        + "route add default via 172.16.0.1\n");
        return guest;
    }

    /**
     * A guest stand-in that can move between NAT namespaces, as a migrated VM does: like {@link #addGuest}, but with
     * one veth into each of {@code natNamespaces} (each replacing that namespace's {@code tap0}, which stays there
     * when the guest leaves, as a VM's tap does). The guest's address and route sit on the first; {@link #moveGuest}
     * moves them. Returns the guest namespace's name.
     */
    String addRoamingGuest(List<String> natNamespaces) {
        String guest = natNamespaces.getFirst() + "r";
        guestNamespaces.add(guest);
        runner.run("add guest namespace", List.of("ip", "netns", "add", guest));
        for (int i = 0; i < natNamespaces.size(); i++) {
            String natNs = natNamespaces.get(i);
            runner.run(
                    "replace tap0 in " + natNs,
                    List.of("ip", "-n", natNs, "-batch", "-"),
                    "link del tap0\n"
                            + "link add tap0 type veth peer name eth" + i + " netns " + guest + "\n"
                            + "addr add 172.16.0.1/30 dev tap0\n"
                            + "link set tap0 up\n");
            runner.run("bring up eth" + i, List.of("ip", "-n", guest, "link", "set", "eth" + i, "up"));
        }
        runner.run("bring up lo", List.of("ip", "-n", guest, "link", "set", "lo", "up"));
        moveGuest(guest, 0);
        return guest;
    }

    /**
     * Puts roaming guest {@code guest}'s address and route on its link into NAT namespace number {@code to}; its
     * sockets, their TCP state and the namespace stay as they are.
     */
    void moveGuest(String guest, int to) {
        runner.run(
                "move guest " + guest + " to eth" + to,
                List.of("ip", "-n", guest, "-force", "-batch", "-"),
                "addr flush dev eth0\naddr flush dev eth1\n" + "addr add 172.16.0.2/30 dev eth" + to
                        + "\nroute add default via 172.16.0.1\n");
    }

    /**
     * Starts a line server in {@code netns} on {@code address:port}: for every connection it answers one line,
     * {@code <name> <peer address>}, and closes.
     */
    void serveIdentity(String netns, String address, int port, String name) throws Exception {
        ServerSocketChannel server = InNetns.call(netns, () -> {
            ServerSocketChannel s = ServerSocketChannel.open();
            s.bind(new InetSocketAddress(address, port));
            return s;
        });
        closeables.add(server);
        Thread.ofPlatform().daemon().name("identity-" + name).start(() -> {
            while (server.isOpen()) {
                try (SocketChannel c = server.accept();
                        PrintWriter w = new PrintWriter(Channels.newOutputStream(c), true, StandardCharsets.UTF_8)) {
                    InetSocketAddress peer = (InetSocketAddress) c.getRemoteAddress();
                    w.println(name + " " + peer.getAddress().getHostAddress());
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    /** Connects from the host (this thread's namespace) and returns the one line the server sends. */
    static String ask(String host, int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 5_000);
            s.setSoTimeout(5_000);
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    /** Connects from inside {@code netns} and returns the one line the server sends. */
    static String askFrom(String netns, String host, int port) throws Exception {
        return askFrom(netns, host, port, 5_000);
    }

    /** As {@link #askFrom(String, String, int)} with a connect timeout. */
    static String askFrom(String netns, String host, int port, int connectTimeoutMillis) throws Exception {
        SocketChannel ch = InNetns.call(netns, SocketChannel::open);
        try (ch) {
            ch.socket().connect(new InetSocketAddress(host, port), connectTimeoutMillis);
            ch.socket().setSoTimeout(5_000);
            return new BufferedReader(new InputStreamReader(ch.socket().getInputStream(), StandardCharsets.UTF_8))
                    .readLine();
        }
    }

    /** Asserts the host routes {@code address} through one of this lab's interfaces, never a real one. */
    void assertRoutedInsideLab(String address) {
        String route = runner.run("route get", List.of("ip", "-4", "-o", "route", "get", address))
                .stdout();
        assertTrue(route.contains(" dev " + prefix), "refusing to contact " + address + ", routed as: " + route);
    }

    /** A TCP port on 127.0.0.1 that is free right now. */
    static int freeLoopbackPort() throws IOException {
        // A forward binds no socket: the kernel may hand out a port again that a test forwards already.
        while (true) {
            try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
                if (HANDED_OUT.add(s.getLocalPort())) {
                    return s.getLocalPort();
                }
            }
        }
    }

    /**
     * What the NAT and forwarder of this lab left on the host: namespaces {@code <prefix><n>}, their veths, the
     * nft tables and routes into the pools. Empty when clean.
     */
    List<String> natLeftovers() {
        Host host = new Host(runner);
        java.util.regex.Pattern ours = java.util.regex.Pattern.compile(prefix + "[0-9]+(-veth[01])?");
        List<String> left = new ArrayList<>();
        host.namespaces().stream().filter(n -> ours.matcher(n).matches()).forEach(n -> left.add("namespace " + n));
        host.links().stream().filter(n -> ours.matcher(n).matches()).forEach(n -> left.add("link " + n));
        host.ipTables().stream()
                .filter(t -> t.equals(NatConfig.hostTableName(prefix))
                        || t.startsWith(
                                Forwarder.TABLE_PREFIX + ProcessHandle.current().pid() + "_"))
                .forEach(t -> left.add("nft table " + t));
        runner.run("list routes", List.of("ip", "-4", "-o", "route", "show"))
                .stdout()
                .lines()
                .filter(l -> l.contains("10.231.8.") || l.contains("10.231.15."))
                .forEach(l -> left.add("route " + l));
        if (java.nio.file.Files.exists(NatState.file(stateDir, prefix))) {
            left.add("state file " + NatState.file(stateDir, prefix));
        }
        return left;
    }

    /** Everything of this lab still on the host, including guest and upstream namespaces. */
    List<String> leftovers() {
        List<String> left = new ArrayList<>(natLeftovers());
        Host host = new Host(runner);
        host.namespaces().stream()
                .filter(n -> n.startsWith(prefix) && !left.contains("namespace " + n))
                .forEach(n -> left.add("namespace " + n));
        host.links().stream()
                .filter(n -> n.startsWith(prefix) && !left.contains("link " + n))
                .forEach(n -> left.add("link " + n));
        return left;
    }

    void assertNatGone() {
        assertEquals(List.of(), natLeftovers(), "NAT objects left behind on the host");
    }

    /** Removes everything of this lab, whatever state the test left it in. */
    @Override
    public void close() throws Exception {
        for (AutoCloseable c : closeables.reversed()) {
            try {
                c.close();
            } catch (Exception e) {
                // keep removing the rest
            }
        }
        try {
            Nat.clean(prefix, stateDir, runner);
        } catch (NetException e) {
            // a NAT still open in this process is closed by the test; leftovers are reported below
        }
        StringBuilder batch = new StringBuilder();
        for (String g : guestNamespaces) {
            batch.append("netns del ").append(g).append('\n');
        }
        batch.append("link del ").append(upstreamLink).append('\n');
        batch.append("netns del ").append(upstreamNs).append('\n');
        runner.attempt(List.of("ip", "-force", "-batch", "-"), batch.toString());
    }

    /** Registers something to close in {@link #close()} before the namespaces are removed. */
    <T extends AutoCloseable> T closeLater(T c) {
        closeables.add(c);
        return c;
    }
}
