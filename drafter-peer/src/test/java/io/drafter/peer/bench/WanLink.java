package io.drafter.peer.bench;

import io.drafter.net.CommandRunner;
import io.drafter.net.testing.InNetns;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A shaped, delayed link for benchmarks: network namespace {@value #NAMESPACE} joined to the host by veth pair
 * {@value #HOST_VETH} ({@value #HOST_ADDRESS}) / {@value #NAMESPACE_VETH} ({@value #NAMESPACE_ADDRESS}), each end's
 * egress limited by {@code tc tbf} to the profile's rate, and a {@link DelayRelay} holding each chunk half the round
 * trip in each direction (the kernel here has no {@code netem}).
 *
 * <p>A {@link #tunnel} carries TCP connections from a listener (in any namespace) over the link to a target (in any
 * namespace) through two relays: the entry (listening on 127.0.0.1 in the client's namespace) and the exit (listening in
 * {@value #NAMESPACE}, its onward socket opened in the target's namespace), with the shaped veth between them. Each
 * direction is delayed by the relay where it enters the link, so both take the same path: held half the round trip,
 * then the rate limit, then a plain hop. So any two endpoints, e.g. a QEMU in ark0 and one in ark1, talk through the
 * same link whichever of them dials, and a bulk transfer meets the same buffers either way: up to
 * {@link #relayCapacityBytes()} in the delaying relay (about what a TCP sender has in flight on such a path), the
 * socket buffers, and the {@code tbf} queue ({@value #TBF_LATENCY} at the rate).
 *
 * <p>{@link #open} removes what a killed earlier run left; {@link #close()} closes every tunnel and deletes the
 * namespace (which takes the veth pair and both qdiscs with it), then checks that nothing is left; a shutdown hook does
 * the same if the JVM is stopped. Root only.
 */
public final class WanLink implements AutoCloseable {
    static final String NAMESPACE = "drwan0";
    static final String HOST_VETH = "drwan0h";
    static final String NAMESPACE_VETH = "drwan0n";
    /** Outside drafter nat's 10.0.8.0/22 and 10.0.15.0/24. */
    static final String HOST_ADDRESS = "10.254.19.1";

    static final String NAMESPACE_ADDRESS = "10.254.19.2";

    /**
     * Socket buffers of the relays' own sockets (the kernel doubles it): small, so that what a sender has in flight is
     * its own socket buffer, the delaying relay's capacity and the {@code tbf} queue, as on a real path, and not also
     * the autotuned buffers of the relays' extra hops (megabytes, which would queue a late frame behind seconds of
     * bulk data).
     */
    static final int RELAY_SOCKET_BUFFER_BYTES = 64 << 10;

    /** How long a packet may wait in the {@code tbf} queue before it is dropped. */
    static final String TBF_LATENCY = "50ms";

    /** A link: rate each way and round-trip time, written {@code 100mbit:40ms}. */
    public record Profile(long rateBitsPerSecond, Duration roundTrip) {
        private static final Pattern FORM = Pattern.compile("(\\d+)(k|m|g)bit:(\\d+)ms");

        /** Parses {@code <n>{k,m,g}bit:<n>ms}, e.g. {@code 50mbit:150ms}. */
        public static Profile parse(String s) {
            Matcher m = FORM.matcher(s.strip().toLowerCase(Locale.ROOT));
            if (!m.matches()) {
                throw new IllegalArgumentException(
                        "could not parse link profile '" + s + "': expected e.g. 100mbit:40ms");
            }
            long unit = switch (m.group(2)) {
                case "k" -> 1_000L;
                case "m" -> 1_000_000L;
                default -> 1_000_000_000L;
            };
            Profile p = new Profile(Long.parseLong(m.group(1)) * unit, Duration.ofMillis(Long.parseLong(m.group(3))));
            if (p.rateBitsPerSecond() <= 0) {
                throw new IllegalArgumentException("could not parse link profile '" + s + "': rate 0");
            }
            return p;
        }

        /** The {@code tc} rate, e.g. {@code 100000kbit}. */
        String tcRate() {
            return rateBitsPerSecond / 1000 + "kbit";
        }

        @Override
        public String toString() {
            return String.format(
                    Locale.ROOT,
                    "%.0f Mbit/s each way, %d ms round trip",
                    rateBitsPerSecond / 1e6,
                    roundTrip.toMillis());
        }
    }

    /** Connections from {@link #address()} to a target over the link; bytes counted on the link. */
    public static final class Tunnel implements AutoCloseable {
        private final DelayRelay entry;
        private final DelayRelay exit;

        private Tunnel(DelayRelay entry, DelayRelay exit) {
            this.entry = entry;
            this.exit = exit;
        }

        /** Where clients connect (in the entry namespace). */
        public InetSocketAddress address() throws IOException {
            return entry.address();
        }

        /** Bytes carried over the link so far, both directions (payload, TCP/IP headers not counted). */
        public long bytes() {
            return entry.bytesForward() + entry.bytesBack();
        }

        @Override
        public void close() throws InterruptedException {
            try {
                entry.close();
            } finally {
                exit.close();
            }
        }
    }

    private final Profile profile;
    private final CommandRunner runner = new CommandRunner();
    private final List<Tunnel> tunnels = new ArrayList<>();
    private final Thread hook = new Thread(this::removeQuietly, "wan-link-cleanup");
    private boolean closed;

    private WanLink(Profile profile) {
        this.profile = profile;
    }

    /** Creates the namespace, the veth pair and the two qdiscs for {@code profile}. */
    public static WanLink open(Profile profile) {
        WanLink l = new WanLink(profile);
        l.remove(); // a killed earlier run
        Runtime.getRuntime().addShutdownHook(l.hook);
        try {
            l.create();
        } catch (RuntimeException e) {
            l.removeQuietly();
            throw e;
        }
        return l;
    }

    /**
     * {@code WanLink <profile>}: creates the link, prints its qdiscs and measurement, removes it. {@code WanLink <profile>
     * HOST:PORT}: also opens a tunnel over the link to HOST:PORT in the host's namespace, prints {@code tunnel
     * 127.0.0.1:P} (where to connect instead) and keeps it until standard input ends or the process is stopped; then
     * removes the link.
     */
    public static void main(String[] args) throws Exception {
        try (WanLink link = open(Profile.parse(args[0]))) {
            System.out.println("link " + link.profile() + ": " + link.qdiscs());
            System.out.println("measured: " + link.measure(2));
            if (args.length > 1) {
                String target = args[1];
                int colon = target.lastIndexOf(':');
                Tunnel t = link.tunnel(
                        null,
                        null,
                        new InetSocketAddress(
                                target.substring(0, colon), Integer.parseInt(target.substring(colon + 1))));
                System.out.println("tunnel " + t.address().getHostString() + ":"
                        + t.address().getPort());
                System.out.flush();
                while (System.in.read() >= 0) {
                    // Until standard input ends (or a signal runs the shutdown hook, which removes the link).
                }
                System.out.println("carried " + t.bytes() + " bytes");
            }
        }
        System.out.println("removed");
    }

    /** Bytes a relay may hold per direction and connection: the profile's rate × round trip, at least 256 KiB. */
    public int relayCapacityBytes() {
        return (int) Math.max(
                256 << 10, profile.rateBitsPerSecond() / 8 * profile.roundTrip().toNanos() / 1_000_000_000L);
    }

    public Profile profile() {
        return profile;
    }

    private void create() {
        long burstBytes = Math.max(16_000, profile.rateBitsPerSecond() / 8 / 250); // 4 ms at the rate
        String tbf = "tbf rate " + profile.tcRate() + " burst " + burstBytes + " latency " + TBF_LATENCY;
        run("add namespace", "ip netns add " + NAMESPACE);
        run(
                "add veth pair",
                "ip link add " + HOST_VETH + " type veth peer name " + NAMESPACE_VETH + " netns " + NAMESPACE);
        run("address host end", "ip addr add " + HOST_ADDRESS + "/30 dev " + HOST_VETH);
        run(
                "address namespace end",
                "ip -n " + NAMESPACE + " addr add " + NAMESPACE_ADDRESS + "/30 dev " + NAMESPACE_VETH);
        run("bring host end up", "ip link set " + HOST_VETH + " up");
        run("bring namespace end up", "ip -n " + NAMESPACE + " link set " + NAMESPACE_VETH + " up");
        run("shape host end", "tc qdisc add dev " + HOST_VETH + " root " + tbf);
        run("shape namespace end", "tc -n " + NAMESPACE + " qdisc add dev " + NAMESPACE_VETH + " root " + tbf);
    }

    /** The two qdiscs as {@code tc} shows them (one line each). */
    public String qdiscs() {
        return (runner.run("show qdisc", List.of("tc", "qdisc", "show", "dev", HOST_VETH))
                                .stdout()
                                .strip()
                        + " | "
                        + runner.run(
                                        "show qdisc",
                                        List.of("tc", "-n", NAMESPACE, "qdisc", "show", "dev", NAMESPACE_VETH))
                                .stdout()
                                .strip())
                .replaceAll("\\s+", " ");
    }

    /**
     * A tunnel from a new listener on 127.0.0.1 in {@code entryNetns} over the link to {@code target} in
     * {@code targetNetns} (null or empty: the host's namespace). Closed with the link if not before.
     */
    public synchronized Tunnel tunnel(String entryNetns, String targetNetns, InetSocketAddress target)
            throws Exception {
        ServerSocketChannel exitListener =
                InNetns.call(NAMESPACE, () -> relayListener(new InetSocketAddress(NAMESPACE_ADDRESS, 0)));
        Duration oneWay = profile.roundTrip().dividedBy(2);
        DelayRelay exit = DelayRelay.start(
                        "wan-exit",
                        exitListener,
                        () -> connect(targetNetns, target),
                        Duration.ZERO,
                        oneWay,
                        relayCapacityBytes())
                .sendBuffer(RELAY_SOCKET_BUFFER_BYTES);
        InetSocketAddress exitAddress =
                new InetSocketAddress(NAMESPACE_ADDRESS, exit.address().getPort());
        ServerSocketChannel entryListener;
        try {
            entryListener = InNetns.call(entryNetns, () -> relayListener(new InetSocketAddress("127.0.0.1", 0)));
        } catch (Exception e) {
            exit.close();
            throw e;
        }
        DelayRelay entry = DelayRelay.start(
                        "wan-entry",
                        entryListener,
                        () -> connect(null, exitAddress),
                        oneWay,
                        Duration.ZERO,
                        relayCapacityBytes())
                .sendBuffer(RELAY_SOCKET_BUFFER_BYTES);
        Tunnel t = new Tunnel(entry, exit);
        tunnels.add(t);
        return t;
    }

    /** A listener whose accepted sockets get the relay's small receive buffer (Linux passes it on). */
    private static ServerSocketChannel relayListener(InetSocketAddress address) throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open();
        l.setOption(StandardSocketOptions.SO_RCVBUF, RELAY_SOCKET_BUFFER_BYTES);
        return l.bind(address);
    }

    private static SocketChannel connect(String netns, InetSocketAddress target) throws IOException {
        SocketChannel c;
        try {
            c = InNetns.call(netns, SocketChannel::open);
            c.setOption(StandardSocketOptions.SO_RCVBUF, RELAY_SOCKET_BUFFER_BYTES);
            c.setOption(StandardSocketOptions.SO_SNDBUF, RELAY_SOCKET_BUFFER_BYTES);
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("could not open a socket in namespace " + netns + ": " + e.getMessage(), e);
        }
        try {
            c.socket().connect(target, 10_000);
            return c;
        } catch (IOException e) {
            c.close();
            throw new IOException(
                    "could not connect to " + target + " (namespace " + netns + "): " + e.getMessage(), e);
        }
    }

    /**
     * Measures the link through a tunnel to a small server of its own on 127.0.0.1: the median round trip of 10
     * one-byte ping-pongs, and the rate of a bulk transfer each way ({@code seconds} of the profile's rate, less the
     * round trip). One line for the report.
     */
    public String measure(double seconds) throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            Thread serving = Thread.ofPlatform().name("wan-measure-server").start(() -> serve(server));
            try (Tunnel t = tunnel(null, null, (InetSocketAddress) server.getLocalAddress())) {
                long[] rttNs = new long[10];
                long bytes = (long) (profile.rateBitsPerSecond() / 8 * seconds);
                double upMbit;
                double downMbit;
                try (Socket s = new Socket()) {
                    s.setTcpNoDelay(true);
                    s.connect(t.address(), 10_000);
                    s.setSoTimeout(60_000);
                    OutputStream out = s.getOutputStream();
                    InputStream in = s.getInputStream();
                    for (int i = 0; i < rttNs.length; i++) {
                        long t0 = System.nanoTime();
                        out.write('p');
                        out.flush();
                        expect(in, 'p');
                        rttNs[i] = System.nanoTime() - t0;
                    }
                    Arrays.sort(rttNs);
                    long rtt = rttNs[rttNs.length / 2];
                    // Up: send, the server answers when it has all. Down: ask, the server sends.
                    byte[] block = new byte[64 * 1024];
                    long t0 = System.nanoTime();
                    out.write('u');
                    writeLong(out, bytes);
                    for (long left = bytes; left > 0; left -= block.length) {
                        out.write(block, 0, (int) Math.min(block.length, left));
                    }
                    out.flush();
                    expect(in, 'u');
                    upMbit = bytes * 8 / 1e6 / ((System.nanoTime() - t0 - rtt) / 1e9);
                    t0 = System.nanoTime();
                    out.write('d');
                    writeLong(out, bytes);
                    out.flush();
                    for (long left = bytes; left > 0; ) {
                        int n = in.read(block, 0, (int) Math.min(block.length, left));
                        if (n < 0) {
                            throw new IOException("could not measure the link: the server closed early");
                        }
                        left -= n;
                    }
                    downMbit = bytes * 8 / 1e6 / ((System.nanoTime() - t0 - rtt) / 1e9);
                }
                return String.format(
                        Locale.ROOT,
                        "ping-pong round trip median %.1f ms (min %.1f, max %.1f), %d MB up %.1f Mbit/s, down %.1f"
                                + " Mbit/s",
                        rttNs[rttNs.length / 2] / 1e6,
                        rttNs[0] / 1e6,
                        rttNs[rttNs.length - 1] / 1e6,
                        bytes / 1_000_000,
                        upMbit,
                        downMbit);
            } finally {
                server.close();
                serving.join(10_000);
            }
        }
    }

    /** One connection at a time: 'p' echoes, 'u' n reads n bytes then answers 'u', 'd' n sends n bytes. */
    private static void serve(ServerSocketChannel server) {
        while (true) {
            try (SocketChannel c = server.accept()) {
                c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                Socket s = c.socket();
                InputStream in = java.nio.channels.Channels.newInputStream(c);
                OutputStream out = java.nio.channels.Channels.newOutputStream(c);
                byte[] block = new byte[64 * 1024];
                for (int op; (op = in.read()) != -1; ) {
                    switch (op) {
                        case 'p' -> out.write('p');
                        case 'u' -> {
                            long n = readLong(in);
                            while (n > 0) {
                                int r = in.read(block, 0, (int) Math.min(block.length, n));
                                if (r < 0) {
                                    throw new IOException("closed early");
                                }
                                n -= r;
                            }
                            out.write('u');
                        }
                        case 'd' -> {
                            for (long n = readLong(in); n > 0; n -= block.length) {
                                out.write(block, 0, (int) Math.min(block.length, n));
                            }
                        }
                        default -> throw new IOException("unknown request " + op + " on " + s);
                    }
                    out.flush();
                }
            } catch (IOException e) {
                if (!server.isOpen()) {
                    return;
                }
            }
        }
    }

    private static void expect(InputStream in, int b) throws IOException {
        int r = in.read();
        if (r != b) {
            throw new IOException("could not measure the link: expected '" + (char) b + "', read " + r);
        }
    }

    private static void writeLong(OutputStream out, long v) throws IOException {
        out.write(java.nio.ByteBuffer.allocate(8).putLong(v).array());
    }

    private static long readLong(InputStream in) throws IOException {
        return java.nio.ByteBuffer.wrap(in.readNBytes(8)).getLong();
    }

    /** Runs {@code commandLine} (words without spaces in them) or throws naming {@code step}. */
    private void run(String step, String commandLine) {
        runner.run(step, List.of(commandLine.split(" ")));
    }

    /** Deletes the namespace (and with it the veth pair and the qdiscs) and a stray host end; idempotent. */
    private void remove() {
        if (runner.attempt("ip", "netns", "pids", NAMESPACE).ok()) {
            runner.attempt("ip", "netns", "del", NAMESPACE);
        }
        if (runner.attempt("ip", "link", "show", HOST_VETH).ok()) {
            runner.attempt("ip", "link", "del", HOST_VETH);
        }
    }

    private void removeQuietly() {
        try {
            remove();
        } catch (RuntimeException e) {
            System.err.println("could not remove link " + NAMESPACE + ": " + e.getMessage());
        }
    }

    /** Closes the tunnels, deletes the namespace, and throws if the veth, the namespace or a relay thread is left. */
    @Override
    public synchronized void close() throws InterruptedException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            for (Tunnel t : tunnels) {
                t.close();
            }
        } finally {
            remove();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
        List<String> left = new ArrayList<>();
        if (runner.attempt("ip", "link", "show", HOST_VETH).ok()) {
            left.add("veth " + HOST_VETH);
        }
        if (runner.attempt("ip", "netns", "pids", NAMESPACE).ok()) {
            left.add("namespace " + NAMESPACE);
        }
        Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("wan-"))
                .forEach(t -> left.add("thread " + t.getName()));
        if (!left.isEmpty()) {
            throw new IllegalStateException("could not remove the link: left " + left);
        }
    }
}
