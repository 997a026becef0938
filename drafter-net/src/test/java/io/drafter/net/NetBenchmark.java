package io.drafter.net;

import io.drafter.net.testing.InNetns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Forwarded TCP versus a direct connection inside the namespace, same run: throughput (client sends, the guest
 * stand-in discards and acknowledges) and connect latency (connect + 1-byte round trip + close).
 *
 * <ul>
 *   <li>direct: a socket created inside the NAT namespace connects to 172.16.0.2 (no NAT on the path);
 *   <li>forwarded: a host socket connects to 127.0.0.1:PORT through {@link Forwarder} (host DNAT + masquerade,
 *       route_localnet, namespace DNAT + masquerade);
 *   <li>outer: a host socket connects to the namespace's outer address (namespace DNAT only).
 * </ul>
 *
 * <p>Arguments: {@code [MiB per transfer, default 256] [connects, default 1000] [rounds, default 7]}. Run by
 * {@code scripts/bench-net.sh} as root.
 */
public final class NetBenchmark {
    private static final int PORT = 7100;

    private NetBenchmark() {}

    public static void main(String[] args) throws Exception {
        long mib = args.length > 0 ? Long.parseLong(args[0]) : 256;
        int connects = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        if (Host.effectiveUid() != 0) {
            System.err.println("bench-net: needs root (network namespaces)");
            System.exit(2);
        }
        Path stateDir = Files.createTempDirectory("drafter-bench-net");
        try (NetLab lab = new NetLab(stateDir).withUpstream()) {
            Nat nat = lab.closeLater(Nat.create(lab.natConfig(1), lab.runner));
            NamespaceLayout ns = nat.namespaces().getFirst();
            String guest = lab.addGuest(ns.name());
            ServerSocketChannel server = lab.closeLater(InNetns.call(guest, () -> {
                ServerSocketChannel s = ServerSocketChannel.open();
                s.bind(new InetSocketAddress("172.16.0.2", PORT), 128);
                return s;
            }));
            Thread.ofPlatform().daemon().name("bench-sink").start(() -> sink(server));
            int fwdPort = NetLab.freeLoopbackPort();
            int lanPort = NetLab.freeLoopbackPort();
            Forwarder fwd = lab.closeLater(Forwarder.open(
                    PortForward.parseList("[{\"netns\":\"" + ns.name() + "\",\"internalPort\":\"" + PORT
                            + "\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1:" + fwdPort + "\"},"
                            + "{\"netns\":\"" + ns.name() + "\",\"internalPort\":\"" + PORT
                            + "\",\"protocol\":\"tcp\",\"externalAddr\":\"" + NetLab.UPSTREAM_HOST_IP + ":"
                            + lanPort + "\"}]"),
                    Ipv4Cidr.parse(NetLab.HOST_VETH_CIDR),
                    lab.runner));
            String outer = Ipv4Cidr.formatAddress(ns.namespaceIp());
            lab.assertRoutedInsideLab(outer);

            Route direct = new Route(
                    "direct (inside " + ns.name() + " -> 172.16.0.2)",
                    n -> InNetns.call(ns.name(), () -> openAll(n)),
                    new InetSocketAddress("172.16.0.2", PORT));
            Route forwarded = new Route(
                    "forwarded (host 127.0.0.1:" + fwdPort + ")",
                    NetBenchmark::openAll,
                    new InetSocketAddress("127.0.0.1", fwdPort));
            Route forwardedLan = new Route(
                    "forwarded (host " + NetLab.UPSTREAM_HOST_IP + ":" + lanPort + ")",
                    NetBenchmark::openAll,
                    new InetSocketAddress(NetLab.UPSTREAM_HOST_IP, lanPort));
            Route viaOuter = new Route(
                    "outer address (host -> " + outer + ")", NetBenchmark::openAll, new InetSocketAddress(outer, PORT));
            List<Route> paths = List.of(direct, forwarded, forwardedLan, viaOuter);
            System.out.printf(
                    "bench-net: %d MiB per transfer, %d connects, %d rounds, best round reported%n",
                    mib, connects, rounds);
            // warm-up: JIT and conntrack
            for (Route p : paths) {
                p.throughputMiBs(Math.min(mib, 64));
                p.connectMicros(Math.min(connects, 200));
            }
            double[][] tput = new double[paths.size()][rounds];
            double[][] lat = new double[paths.size()][rounds];
            for (int r = 0; r < rounds; r++) {
                for (int i = 0; i < paths.size(); i++) {
                    tput[i][r] = paths.get(i).throughputMiBs(mib);
                    lat[i][r] = paths.get(i).connectMicros(connects);
                }
            }
            double directTput = max(tput[0]);
            double directLat = min(lat[0]);
            System.out.printf("%-45s %12s %8s %18s %8s%n", "path", "MiB/s", "ratio", "connect+rtt us", "ratio");
            for (int i = 0; i < paths.size(); i++) {
                System.out.printf(
                        "%-45s %12.0f %8.2f %18.1f %8.2f%n",
                        paths.get(i).name(),
                        max(tput[i]),
                        max(tput[i]) / directTput,
                        min(lat[i]),
                        min(lat[i]) / directLat);
            }
            System.out.println("ratio = path / direct (throughput: higher is better; latency: lower is better)");
            fwd.close();
            nat.close();
        }
    }

    /** Opens {@code n} unconnected sockets in the namespace the route starts from. */
    private interface Opener {
        List<SocketChannel> open(int n) throws Exception;
    }

    private static List<SocketChannel> openAll(int n) throws IOException {
        List<SocketChannel> all = new java.util.ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            all.add(SocketChannel.open());
        }
        return all;
    }

    private record Route(String name, Opener open, InetSocketAddress target) {
        double throughputMiBs(long mib) throws Exception {
            ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
            long total = mib << 20;
            try (SocketChannel c = open.open(1).getFirst()) {
                c.connect(target);
                c.write(ByteBuffer.wrap(new byte[] {'T'}));
                long start = System.nanoTime();
                long sent = 0;
                while (sent < total) {
                    buf.clear();
                    buf.limit((int) Math.min(buf.capacity(), total - sent));
                    sent += c.write(buf);
                }
                c.shutdownOutput();
                ByteBuffer ack = ByteBuffer.allocate(1);
                while (ack.hasRemaining() && c.read(ack) >= 0) {}
                long ns = System.nanoTime() - start;
                return (double) mib / (ns / 1e9);
            }
        }

        double connectMicros(int count) throws Exception {
            ByteBuffer one = ByteBuffer.allocate(1);
            // sockets are created up front (in the route's namespace); only connect + round trip + close is timed
            List<SocketChannel> sockets = open.open(count);
            long start = System.nanoTime();
            for (SocketChannel s : sockets) {
                try (SocketChannel c = s) {
                    c.connect(target);
                    c.write(ByteBuffer.wrap(new byte[] {'P'}));
                    one.clear();
                    while (one.hasRemaining() && c.read(one) >= 0) {}
                }
            }
            return (System.nanoTime() - start) / 1e3 / count;
        }
    }

    /** Guest stand-in: 'P' = answer one byte; 'T' = discard until EOF, then answer one byte. */
    private static void sink(ServerSocketChannel server) {
        while (server.isOpen()) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (IOException e) {
                return;
            }
            Thread.ofVirtual().start(() -> {
                try (c) {
                    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
                    ByteBuffer first = ByteBuffer.allocate(1);
                    if (c.read(first) < 1) {
                        return;
                    }
                    if (first.get(0) == 'T') {
                        while (c.read(buf.clear()) >= 0) {}
                    }
                    c.write(ByteBuffer.wrap(new byte[] {'A'}));
                } catch (IOException e) {
                    // client went away
                }
            });
        }
    }

    private static double max(double[] v) {
        return Arrays.stream(v).max().orElseThrow();
    }

    private static double min(double[] v) {
        return Arrays.stream(v).min().orElseThrow();
    }
}
