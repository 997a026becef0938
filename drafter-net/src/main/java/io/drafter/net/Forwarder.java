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
import java.util.LinkedHashMap;
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

    /**
     * Forwards looked up and checked by {@link #plan}, ready to {@link #install}; {@link #stage} can make their table
     * ahead. Thread-safe; {@link #close()} removes a staged table that was never installed.
     */
    public static final class Plan implements AutoCloseable {
        private final List<Resolved> resolved;
        private final CommandRunner runner;
        /** The table {@link #stage} made, dormant, until {@link #install} wakes it or {@link #close} removes it. */
        private String staged;
        /** Other forwarders' tables that held an address of these forwards at {@link #stage}, and the address. */
        private Map<String, String> heldAtStage = Map.of();

        private Plan(List<Resolved> resolved, CommandRunner runner) {
            this.resolved = resolved;
            this.runner = runner;
        }

        /** The forwards it installs. */
        public List<Resolved> forwards() {
            return resolved;
        }

        /**
         * Makes the forwards' table now, dormant (its chains hooked to nothing, so it forwards nothing yet), while
         * another forwarder may still hold the addresses, e.g. the peer a VM is leaving: {@link #install} then only
         * wakes it over netlink, in microseconds where a listing of the ruleset and an {@code nft} run take 30-100 ms
         * under load. Notes which other drafter forwarders' tables hold the addresses now; {@link #install} waits for
         * those (a forwarder of the same address started after this is not seen). Throws {@link NetException}; nothing
         * is left then.
         */
        public synchronized void stage() {
            if (staged != null) {
                return;
            }
            Map<String, String> tables = new Host(runner).ipRuleset();
            Map<String, String> held = new LinkedHashMap<>();
            for (Resolved r : resolved) {
                for (String t : holders(tables, r, false)) {
                    held.putIfAbsent(t, r.forward().externalAddr());
                }
            }
            String table = newTable(tables);
            runner.run("create nft table " + table, List.of("nft", "-f", "-"), rules(table, resolved, true));
            staged = table;
            heldAtStage = held;
        }

        /**
         * Installs the forwards, then forgets their old flows. A {@link #stage staged} table is woken once no table
         * that held an address at the stage is still active and no socket holds one. Otherwise in one nft
         * transaction, after one listing of the ruleset proves every address free (no socket bound, no other active
         * drafter forwarder's rule). Throws {@link AddressInUseException} while another forwarder holds an address
         * (e.g. the peer a VM is leaving), which a caller may retry; {@link NetException} otherwise; nothing is left
         * installed then (a staged table stays staged for a retry after {@link AddressInUseException}).
         */
        public synchronized Forwarder install() {
            String table = staged;
            if (table != null) {
                for (Resolved r : resolved) {
                    bindOnce(r.forward(), r.externalHost());
                }
                try {
                    for (Map.Entry<String, String> h : heldAtStage.entrySet()) {
                        int flags = NfTables.tableFlags("ip", h.getKey());
                        if (flags >= 0 && (flags & NfTables.DORMANT) == 0) {
                            throw inUse(h.getValue(), h.getKey());
                        }
                    }
                    NfTables.setTableFlags("ip", table, 0);
                    staged = null;
                    return finish(table, resolved, runner);
                } catch (LinuxException e) {
                    // Netlink refused where nft may not: the table goes, and the install is done as without a stage.
                    LOG.log(System.Logger.Level.DEBUG, e.getMessage() + "; installing with nft");
                    close();
                }
            }
            Map<String, String> tables = new Host(runner).ipRuleset();
            for (Resolved r : resolved) {
                bindOnce(r.forward(), r.externalHost());
                List<String> held = holders(tables, r, true);
                if (!held.isEmpty()) {
                    throw inUse(r.forward().externalAddr(), held.getFirst());
                }
            }
            String created = newTable(tables);
            runner.run("create nft table " + created, List.of("nft", "-f", "-"), rules(created, resolved, false));
            return finish(created, resolved, runner);
        }

        /** Removes the table {@link #stage} made if it was not installed. Idempotent. */
        @Override
        public synchronized void close() {
            String table = staged;
            staged = null;
            if (table != null) {
                new Forwarder(table, resolved, runner).close();
            }
        }
    }

    /** What a listing shows of a dormant table: it forwards nothing, so it holds no address. */
    private static final String DORMANT_LINE = "flags dormant";

    /**
     * The drafter forwarders' tables among {@code tables} (the ruleset listed: name, text) with a rule for {@code r}'s
     * external address; dormant ones too unless {@code activeOnly}.
     */
    private static List<String> holders(Map<String, String> tables, Resolved r, boolean activeOnly) {
        String needle = "ip daddr " + r.externalHost().getHostAddress() + " "
                + r.forward().protocolName() + " dport " + r.forward().externalPort() + " ";
        return tables.entrySet().stream()
                .filter(t -> t.getKey().startsWith(TABLE_PREFIX) && t.getValue().contains(needle))
                .filter(t -> !activeOnly || !t.getValue().contains(DORMANT_LINE))
                .map(Map.Entry::getKey)
                .toList();
    }

    private static AddressInUseException inUse(String externalAddr, String table) {
        return new AddressInUseException("could not forward " + externalAddr
                + ": address already in use by another drafter forwarder (nft table " + table + ")");
    }

    /** A name for a new table of this process that {@code tables} (the ruleset listed) does not have. */
    private static String newTable(Map<String, String> tables) {
        String table = TABLE_PREFIX + ProcessHandle.current().pid() + "_" + OPENED.getAndIncrement();
        if (tables.containsKey(table)) {
            throw new NetException("could not create nft table " + table + ": it already exists");
        }
        return table;
    }

    /** The forwarder of installed {@code table}: loopback allowed on the veths, old flows forgotten; or none left. */
    private static Forwarder finish(String table, List<Resolved> resolved, CommandRunner runner) {
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

    static String rules(String table, List<Resolved> forwards, boolean dormant) {
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
                + (dormant ? "  " + DORMANT_LINE + ";\n" : "")
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
