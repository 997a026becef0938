package io.drafter.net;

import static io.drafter.net.Ipv4Cidr.formatAddress;

import io.drafter.linux.LinuxException;
import io.drafter.linux.NfTables;
import io.drafter.linux.ProcessState;
import java.io.IOException;
import java.net.BindException;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Makes host addresses reach guest ports, as {@code drafter forwarder} does: each {@link PortForward} becomes a
 * DNAT from {@code externalAddr} to the namespace's inner veth address (which {@link Nat} DNATs on to the guest)
 * plus a masquerade so replies come back through the host. All rules live in one nft table
 * {@code drafter_fwd_<pid>_<n>} created in a single transaction, so a failure leaves nothing behind.
 *
 * <p>Loopback external addresses work without a userspace proxy: the kernel allows a 127/8 source to leave on,
 * and a 127/8 destination to arrive from, the namespace's host veth once {@code route_localnet=1} is set on that
 * one interface (it disappears with the namespace, so the setting is not undone). The masquerade then gives the
 * packets the veth's address.
 *
 * <p>Not thread-safe; {@link #close()} is idempotent.
 */
public final class Forwarder implements AutoCloseable {
    /** Prefix of the tables forwarders own: {@code drafter_fwd_<pid>_<n>}, n counting forwarders of the process. */
    public static final String TABLE_PREFIX = "drafter_fwd_";

    private static final AtomicInteger OPENED = new AtomicInteger();
    private static final System.Logger LOG = System.getLogger(Forwarder.class.getName());

    private final String table;
    private final List<Resolved> forwards;
    private final CommandRunner runner;
    private boolean closed;

    /** A forward with everything looked up: guest-side address and the host interface toward it. */
    public record Resolved(PortForward forward, InetAddress externalHost, int internalIp, String hostVeth) {
        /** One human-readable line. */
        public String describe() {
            return forward.protocolName() + " " + externalHost.getHostAddress() + ":" + forward.externalPort() + " -> "
                    + forward.netns() + " " + formatAddress(internalIp) + ":" + forward.internalPort() + " (via "
                    + hostVeth + ")";
        }
    }

    private Forwarder(String table, List<Resolved> forwards, CommandRunner runner) {
        this.table = table;
        this.forwards = forwards;
        this.runner = runner;
    }

    /**
     * Installs {@code forwards}. {@code hostVethCidr} is the NAT's host veth pool, used to find each namespace's
     * inner veth address. Throws {@link NetException} (one line) if a namespace is missing, an external address
     * is not on this host or already in use, or nft fails; nothing is left installed then.
     */
    public static Forwarder open(List<PortForward> forwards, Ipv4Cidr hostVethCidr, CommandRunner runner) {
        return plan(forwards, hostVethCidr, runner).install();
    }

    /**
     * Looks {@code forwards} up and checks them, installing nothing: the tools, the namespaces and their addresses,
     * the external addresses (local, each once) and the routes. {@link Plan#install} later needs three process runs
     * instead of a dozen: what a peer taking a VM over prepares while the source still forwards the addresses.
     * Throws {@link NetException} (one line) as {@link #open} does, except for an address in use.
     */
    public static Plan plan(List<PortForward> forwards, Ipv4Cidr hostVethCidr, CommandRunner runner) {
        Host.requireRoot("forward ports");
        Host host = new Host(runner);
        host.requireTools("forward ports");
        Set<String> namespaces = Set.copyOf(host.namespaces());
        List<Resolved> resolved = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (PortForward f : forwards) {
            if (!namespaces.contains(f.netns())) {
                throw new NetException("could not forward to namespace " + f.netns()
                        + ": no such namespace (is drafter nat running?)");
            }
            int internalIp = host.addresses(f.netns()).stream()
                    .filter(a -> !a.interfaceName().equals("lo") && hostVethCidr.contains(a.address()))
                    .map(Host.InterfaceAddress::address)
                    .findFirst()
                    .orElseThrow(() -> new NetException("could not forward to namespace " + f.netns()
                            + ": it has no address in " + hostVethCidr + " (check --host-veth-cidr)"));
            InetAddress external = resolveExternal(f);
            String key = f.protocolName() + " " + external.getHostAddress() + ":" + f.externalPort();
            if (!seen.add(key)) {
                throw new NetException("could not forward " + f.externalAddr() + ": listed twice");
            }
            bindOnce(f, external);
            String hostVeth = host.routeInterface(internalIp);
            resolved.add(new Resolved(f, external, internalIp, hostVeth));
        }
        return new Plan(List.copyOf(resolved), runner);
    }

    /** Forwards looked up and checked by {@link #plan}, ready to {@link #install}. */
    public static final class Plan {
        private final List<Resolved> resolved;
        private final CommandRunner runner;

        private Plan(List<Resolved> resolved, CommandRunner runner) {
            this.resolved = resolved;
            this.runner = runner;
        }

        /** The forwards it installs. */
        public List<Resolved> forwards() {
            return resolved;
        }

        /**
         * Installs the forwards in one nft transaction, after one listing of the ruleset proves every address free
         * (no socket bound, no other drafter forwarder's rule), then forgets their old flows. Throws {@link
         * AddressInUseException} while another forwarder holds an address (e.g. the peer a VM is leaving), which a
         * caller may retry; {@link NetException} otherwise; nothing is left installed then.
         */
        public Forwarder install() {
            Map<String, String> tables = new Host(runner).ipRuleset();
            for (Resolved r : resolved) {
                bindOnce(r.forward(), r.externalHost());
                String needle = "ip daddr " + r.externalHost().getHostAddress() + " "
                        + r.forward().protocolName() + " dport " + r.forward().externalPort() + " ";
                for (Map.Entry<String, String> t : tables.entrySet()) {
                    if (t.getKey().startsWith(TABLE_PREFIX) && t.getValue().contains(needle)) {
                        throw new AddressInUseException("could not forward "
                                + r.forward().externalAddr()
                                + ": address already in use by another drafter forwarder (nft table " + t.getKey()
                                + ")");
                    }
                }
            }
            String table = TABLE_PREFIX + ProcessHandle.current().pid() + "_" + OPENED.getAndIncrement();
            if (tables.containsKey(table)) {
                throw new NetException("could not create nft table " + table + ": it already exists");
            }
            runner.run("create nft table " + table, List.of("nft", "-f", "-"), rules(table, resolved));
            Forwarder forwarder = new Forwarder(table, resolved, runner);
            try {
                for (Resolved r : resolved) {
                    if (r.externalHost().isLoopbackAddress()) {
                        enableRouteLocalnet(r.hostVeth());
                    }
                }
                forgetOldFlows(resolved, runner);
            } catch (RuntimeException e) {
                try {
                    forwarder.close();
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            }
            return forwarder;
        }
    }

    /**
     * Forgets the connection-tracking entries of flows to these external addresses: an earlier forward (the VM's place
     * before a migration on this host) had them NATed to its namespace, so their packets went there. Forgotten, the
     * next packet of such a flow is tracked afresh (the kernel picks up established TCP flows) and NATed to the VM's
     * new place, with the same addresses as the guest saw before, so a connection kept open carries on. Needs {@code
     * conntrack}; without it flows to the old place end as before.
     */
    private static void forgetOldFlows(List<Resolved> resolved, CommandRunner runner) {
        for (Resolved r : resolved) {
            // Exit 1: there was none to forget; -1: conntrack is not installed (then none of them can be forgotten).
            CommandRunner.Result deleted = runner.attempt(
                    "conntrack",
                    "-D",
                    "-p",
                    r.forward().protocolName(),
                    "--orig-dst",
                    r.externalHost().getHostAddress(),
                    "--orig-port-dst",
                    Integer.toString(r.forward().externalPort()));
            if (deleted.exitCode() == -1) {
                LOG.log(
                        System.Logger.Level.DEBUG,
                        "could not forget the flows to " + r.describe() + " ("
                                + deleted.stderr().strip() + "): open connections end at a migration");
                return;
            }
        }
    }

    /** The forwards in effect. */
    public List<Resolved> forwards() {
        return forwards;
    }

    /** The nft table holding this forwarder's rules. */
    public String table() {
        return table;
    }

    /**
     * Removes this forwarder's nft table. Idempotent. Over netlink, which takes microseconds where an {@code nft} run
     * takes 10-25 ms of CPU time (a migration on one host removes the source's forward inside its paused window); with
     * the {@code nft} tool should netlink fail.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            NfTables.deleteTable("ip", table); // false: it was gone already
            return;
        } catch (LinuxException e) {
            LOG.log(System.Logger.Level.DEBUG, e.getMessage() + "; trying nft");
        }
        CommandRunner.Result r = runner.attempt("nft", "delete", "table", "ip", table);
        if (!r.ok() && new Host(runner).ipTable(table).isPresent()) {
            throw new CommandFailedException(
                    "remove nft table " + table,
                    List.of("nft", "delete", "table", "ip", table),
                    r.exitCode(),
                    r.stderr());
        }
    }

    /** Removes {@code drafter_fwd_<pid>_<n>} tables whose process is gone; returns their names. */
    public static List<String> clean(CommandRunner runner) {
        Host.requireRoot("clean port forwards");
        Host host = new Host(runner);
        List<String> removed = new ArrayList<>();
        for (String t : host.ipTables()) {
            if (!t.startsWith(TABLE_PREFIX)) {
                continue;
            }
            long pid;
            try {
                String rest = t.substring(TABLE_PREFIX.length());
                pid = Long.parseLong(rest.contains("_") ? rest.substring(0, rest.indexOf('_')) : rest);
            } catch (NumberFormatException e) {
                continue;
            }
            if (ProcessState.runs(pid)) {
                continue;
            }
            runner.run("remove nft table " + t, List.of("nft", "delete", "table", "ip", t));
            removed.add("nft table ip " + t);
        }
        return removed;
    }

    static String rules(String table, List<Resolved> forwards) {
        StringBuilder out = new StringBuilder();
        StringBuilder pre = new StringBuilder();
        StringBuilder post = new StringBuilder();
        for (Resolved r : forwards) {
            String proto = r.forward().protocolName();
            String match = "ip daddr " + r.externalHost().getHostAddress() + " " + proto + " dport "
                    + r.forward().externalPort();
            String target = " dnat to " + formatAddress(r.internalIp()) + ":"
                    + r.forward().internalPort() + "\n";
            out.append("    ").append(match).append(target);
            if (!r.externalHost().isLoopbackAddress()) {
                pre.append("    ").append(match).append(target);
            }
            post.append("    ip daddr ")
                    .append(formatAddress(r.internalIp()))
                    .append(' ')
                    .append(proto)
                    .append(" dport ")
                    .append(r.forward().internalPort())
                    .append(" masquerade\n");
        }
        return "table ip " + table + " {\n"
                + "  chain output {\n    type nat hook output priority -100; policy accept;\n" + out + "  }\n"
                + "  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n" + pre
                + "  }\n"
                + "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n" + post
                + "  }\n"
                + "}\n";
    }

    private static InetAddress resolveExternal(PortForward f) {
        InetAddress a;
        try {
            a = InetAddress.getByName(f.externalHost());
        } catch (UnknownHostException e) {
            throw new NetException(
                    "could not forward " + f.externalAddr() + ": unknown host '" + f.externalHost() + "'");
        }
        if (!(a instanceof Inet4Address)) {
            throw new NetException("could not forward " + f.externalAddr() + ": only IPv4 addresses are supported");
        }
        if (a.isAnyLocalAddress()) {
            throw new NetException("could not forward " + f.externalAddr()
                    + ": 0.0.0.0 is not allowed; forward each address explicitly");
        }
        return a;
    }

    /** Binds a socket to the external address to prove it is local and no socket holds it, then releases it. */
    private static void bindOnce(PortForward f, InetAddress external) {
        InetSocketAddress sa = new InetSocketAddress(external, f.externalPort());
        try {
            if (f.protocolName().equals("tcp")) {
                try (ServerSocket s = new ServerSocket()) {
                    s.setReuseAddress(true);
                    s.bind(sa);
                }
            } else {
                try (DatagramSocket s = new DatagramSocket(sa)) {
                    // bound and released
                }
            }
        } catch (BindException e) {
            String m = String.valueOf(e.getMessage());
            if (m.contains("assign")) {
                throw new NetException("could not forward " + f.externalAddr() + ": " + external.getHostAddress()
                        + " is not an address of this host");
            }
            throw new AddressInUseException("could not forward " + f.externalAddr() + ": address already in use");
        } catch (IOException e) {
            throw new NetException("could not forward " + f.externalAddr() + ": " + e.getMessage(), e);
        }
    }

    private static void enableRouteLocalnet(String device) {
        Path p = Path.of("/proc/sys/net/ipv4/conf", device, "route_localnet");
        try {
            Files.writeString(p, "1");
        } catch (IOException e) {
            throw new NetException("could not write " + p + ": " + e.getMessage(), e);
        }
    }
}
