package io.drafter.net;

import static io.drafter.net.Ipv4Cidr.formatAddress;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The namespaces {@code drafter nat} creates, with their links, routes and nftables rules; closing removes all of
 * it. Layout per namespace (see {@code docs/net.md}): a tap ({@code tap0}, 172.16.0.1/30, the guest is always
 * 172.16.0.2), a veth pair {@code <ns>-veth0} (inside) / {@code <ns>-veth1} (host) on a /30 of the host veth pool,
 * and an outer address from the namespace pool that is DNATed to the guest and that guest traffic is SNATed to.
 * The host gets one nft table {@code drafter_nat_<prefix>} (masquerade toward the host interface, isolation
 * between namespaces) and nothing else: no other table or chain is touched.
 *
 * <p>Not thread-safe; {@link #close()} is idempotent and may be called from a shutdown hook.
 */
public final class Nat implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Nat.class.getName());
    private static final Path IP_FORWARD = Path.of("/proc/sys/net/ipv4/ip_forward");

    private final NatConfig config;
    private final String hostInterface;
    private final List<NamespaceLayout> layouts;
    private final CommandRunner runner;
    private final NatState state;
    private boolean closed;

    private Nat(
            NatConfig config,
            String hostInterface,
            List<NamespaceLayout> layouts,
            CommandRunner runner,
            NatState state) {
        this.config = config;
        this.hostInterface = hostInterface;
        this.layouts = layouts;
        this.runner = runner;
        this.state = state;
    }

    /**
     * Creates every namespace of {@code config}. Either everything is created or, on failure, everything created
     * so far is removed again before the {@link NetException} propagates.
     */
    public static Nat create(NatConfig config, CommandRunner runner) {
        Host.requireRoot("create NAT namespaces");
        Host host = new Host(runner);
        host.requireTools("create NAT namespaces");
        String hostIf = config.hostInterface().isEmpty()
                ? host.defaultRouteInterface()
                        .orElseThrow(() -> new NetException(
                                "could not find the host interface: no default route; pass --host-interface"))
                : config.hostInterface();
        if (!host.linkExists(hostIf)) {
            throw new NetException("could not use host interface '" + hostIf + "': no such interface");
        }
        List<NamespaceLayout> layouts = config.layouts();
        preflight(config, layouts, host);
        NatState state = new NatState(
                NatState.VERSION,
                config.namespacePrefix(),
                ProcessHandle.current().pid(),
                hostIf,
                config.hostTable(),
                readIpForward(),
                layouts.stream().map(NamespaceLayout::name).toList(),
                layouts.stream().map(NamespaceLayout::outsideVeth).toList());
        state.write(config.stateDir());
        Nat nat = new Nat(config, hostIf, layouts, runner, state);
        try {
            nat.build();
        } catch (RuntimeException e) {
            try {
                nat.close();
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        return nat;
    }

    /** The configuration this NAT was created from. */
    public NatConfig config() {
        return config;
    }

    /** The host interface guest traffic is masqueraded toward. */
    public String hostInterface() {
        return hostInterface;
    }

    /** The created namespaces, index 0 first. */
    public List<NamespaceLayout> namespaces() {
        return layouts;
    }

    /** Removes every namespace, link, route and nft table this NAT created, and its state file. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        teardown(state, config.stateDir(), runner);
    }

    /**
     * Removes the leftovers of a NAT with {@code prefix} whose process died: everything named in its state file
     * plus namespaces {@code <prefix><n>}, host links {@code <prefix><n>-veth1} and the table
     * {@code drafter_nat_<prefix>} found by name. Refuses while the owning process is still alive.
     *
     * @return one line per removed object
     */
    public static List<String> clean(String prefix, Path stateDir, CommandRunner runner) {
        Host.requireRoot("clean NAT namespaces");
        Host host = new Host(runner);
        NatState recorded = NatState.read(stateDir, prefix).orElse(null);
        if (recorded != null && recorded.ownerAliveElsewhere()) {
            throw new NetException("could not clean namespaces with prefix '" + prefix + "': drafter nat (pid "
                    + recorded.pid() + ") is still running; stop it with SIGINT or SIGTERM");
        }
        Pattern nsName = Pattern.compile(Pattern.quote(prefix) + "[0-9]+");
        Pattern linkName = Pattern.compile(Pattern.quote(prefix) + "[0-9]+-veth1");
        Set<String> namespaces = new LinkedHashSet<>();
        Set<String> links = new LinkedHashSet<>();
        if (recorded != null) {
            namespaces.addAll(recorded.namespaces());
            links.addAll(recorded.hostLinks());
        }
        host.namespaces().stream().filter(n -> nsName.matcher(n).matches()).forEach(namespaces::add);
        host.links().stream().filter(n -> linkName.matcher(n).matches()).forEach(links::add);
        NatState toRemove = new NatState(
                NatState.VERSION,
                prefix,
                ProcessHandle.current().pid(),
                recorded == null ? "" : recorded.hostInterface(),
                NatConfig.hostTableName(prefix),
                recorded == null ? "1" : recorded.ipForwardBefore(),
                List.copyOf(namespaces),
                List.copyOf(links));
        return teardown(toRemove, stateDir, runner);
    }

    /**
     * Removes what a {@link #create} of {@code config} that is still running in this process has created so far;
     * for a shutdown hook that fires during creation (retries while creation races with it; reports on stderr,
     * since logging may already be shut down). Does nothing unless the state file of the prefix belongs to
     * this process, so it never touches another run's namespaces. Never throws.
     */
    public static void abandon(NatConfig config, CommandRunner runner) {
        NatState s;
        try {
            s = NatState.read(config.stateDir(), config.namespacePrefix()).orElse(null);
        } catch (RuntimeException e) {
            System.err.println("drafter: " + e.getMessage());
            return;
        }
        if (s == null || s.pid() != ProcessHandle.current().pid()) {
            return;
        }
        // the creating thread may still have an `ip` batch in flight that adds objects after a pass lists them
        for (int attempt = 1; ; attempt++) {
            try {
                teardown(s, config.stateDir(), runner);
                return;
            } catch (RuntimeException e) {
                if (attempt == 10) {
                    System.err.println("drafter: " + e.getMessage() + "; run 'drafter nat --clean --namespace-prefix "
                            + config.namespacePrefix() + "'");
                    return;
                }
                try {
                    Thread.sleep(300);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private static void preflight(NatConfig config, List<NamespaceLayout> layouts, Host host) {
        NatState previous =
                NatState.read(config.stateDir(), config.namespacePrefix()).orElse(null);
        if (previous != null) {
            throw new NetException(
                    previous.ownerAliveElsewhere()
                            ? "could not create namespaces with prefix '" + config.namespacePrefix()
                                    + "': drafter nat (pid " + previous.pid() + ") already runs them"
                            : "could not create namespaces with prefix '" + config.namespacePrefix()
                                    + "': leftovers of a crashed run exist; run 'drafter nat --clean --namespace-prefix "
                                    + config.namespacePrefix() + "'");
        }
        Set<String> existingNs = Set.copyOf(host.namespaces());
        Set<String> existingLinks = Set.copyOf(host.links());
        for (NamespaceLayout l : layouts) {
            if (existingNs.contains(l.name())) {
                throw new NetException("could not create namespace " + l.name()
                        + ": it already exists (address in use; 'drafter nat --clean' removes leftovers)");
            }
            if (existingLinks.contains(l.outsideVeth())) {
                throw new NetException("could not create link " + l.outsideVeth() + ": it already exists");
            }
        }
        if (host.ipTable(config.hostTable()).isPresent()) {
            throw new NetException("could not create nft table " + config.hostTable() + ": it already exists");
        }
        for (Host.InterfaceAddress a : host.addresses(null)) {
            for (Ipv4Cidr pool : List.of(config.hostVethCidr(), config.namespaceVethCidr())) {
                if (pool.contains(a.address())) {
                    throw new NetException("could not use " + pool + ": address " + formatAddress(a.address()) + " on "
                            + a.interfaceName() + " is already in use");
                }
            }
        }
        for (Ipv4Cidr route : host.routeDestinations()) {
            for (Ipv4Cidr pool : List.of(config.hostVethCidr(), config.namespaceVethCidr())) {
                if (pool.overlaps(route)) {
                    throw new NetException(
                            "could not use " + pool + ": the host already routes " + route + " (address in use)");
                }
            }
        }
    }

    private void build() {
        if (!"1".equals(state.ipForwardBefore())) {
            runner.run("enable IPv4 forwarding", List.of("sysctl", "-qw", "net.ipv4.ip_forward=1"));
        }
        runner.run(
                "create nft table " + config.hostTable(), List.of("nft", "-f", "-"), hostRules(config, hostInterface));
        StringBuilder batch = new StringBuilder();
        for (NamespaceLayout l : layouts) {
            batch.append("netns add ").append(l.name()).append('\n');
        }
        for (NamespaceLayout l : layouts) {
            batch.append("link add ")
                    .append(l.outsideVeth())
                    .append(" type veth peer name ")
                    .append(l.insideVeth())
                    .append(" netns ")
                    .append(l.name())
                    .append('\n');
            batch.append("addr add ")
                    .append(formatAddress(l.outsideVethIp()))
                    .append("/30 dev ")
                    .append(l.outsideVeth())
                    .append('\n');
            batch.append("link set ").append(l.outsideVeth()).append(" up\n");
            batch.append("route add ")
                    .append(formatAddress(l.namespaceIp()))
                    .append("/32 via ")
                    .append(formatAddress(l.insideVethIp()))
                    .append(" dev ")
                    .append(l.outsideVeth())
                    .append('\n');
        }
        runner.run(
                "create namespaces " + config.namespacePrefix() + "*", List.of("ip", "-batch", "-"), batch.toString());
        for (NamespaceLayout l : layouts) {
            buildInside(l);
        }
        LOG.log(
                System.Logger.Level.INFO,
                "created {0} namespaces with prefix {1}",
                layouts.size(),
                config.namespacePrefix());
    }

    private void buildInside(NamespaceLayout l) {
        String tap = config.namespaceInterface();
        String gateway = formatAddress(config.namespaceInterfaceGateway()) + "/" + config.namespaceInterfaceNetmask();
        String batch = "link set lo up\n"
                + "tuntap add dev " + tap + " mode tap\n"
                + "link set " + tap + " address " + config.namespaceInterfaceMac() + "\n"
                + "addr add " + gateway + " dev " + tap + "\n"
                + "link set " + tap + " up\n"
                + "addr add " + formatAddress(l.insideVethIp()) + "/30 dev " + l.insideVeth() + "\n"
                + "link set " + l.insideVeth() + " up\n"
                + "route add default via " + formatAddress(l.outsideVethIp()) + " dev " + l.insideVeth() + "\n";
        runner.run("set up namespace " + l.name(), List.of("ip", "-n", l.name(), "-batch", "-"), batch);
        runner.run(
                "enable forwarding in namespace " + l.name(),
                CommandRunner.inNetns(l.name(), "sysctl", "-qw", "net.ipv4.ip_forward=1"));
        runner.run(
                "create nft rules in namespace " + l.name(),
                CommandRunner.inNetns(l.name(), "nft", "-f", "-"),
                namespaceRules(config, l));
    }

    /**
     * Forgets every flow that namespace {@code netns} tracks, for a VM about to run there: what it tracks belongs to
     * an earlier VM or to this one's earlier stay, when the connections' sequence numbers were elsewhere. The guest's
     * first packets of a connection it brings along would match such an entry and be translated out to the host, which
     * no longer knows that flow and answers with a reset; forgotten, they are new to the namespace and dropped until the
     * client's next packet makes the flow known again (the kernel picks up established TCP flows), NATed to the guest.
     * Needs {@code conntrack}; without it nothing is forgotten.
     */
    public static void forgetTrackedFlows(String netns, CommandRunner runner) {
        CommandRunner.Result r = runner.attempt(CommandRunner.inNetns(netns, "conntrack", "-F"), null);
        if (!r.ok()) {
            LOG.log(
                    System.Logger.Level.DEBUG,
                    "could not forget the flows namespace " + netns + " tracks ("
                            + r.stderr().strip() + "): connections that come back with a VM may be reset");
        }
    }

    /** The nft script of the host table: masquerade toward {@code hostInterface}, isolation between namespaces. */
    static String hostRules(NatConfig config, String hostInterface) {
        return "table ip " + config.hostTable() + " {\n"
                + "  chain postrouting {\n"
                + "    type nat hook postrouting priority srcnat; policy accept;\n"
                + "    oifname \"" + hostInterface + "\" ip saddr { " + config.namespaceVethCidr() + ", "
                + config.hostVethCidr() + " } masquerade\n"
                + "  }\n"
                + "  chain forward {\n"
                + "    type filter hook forward priority filter; policy accept;\n"
                + "    ip saddr " + config.blockedSubnetCidr() + " ip daddr " + config.blockedSubnetCidr() + " drop\n"
                + "  }\n"
                + "}\n";
    }

    /** The nft script of the table inside namespace {@code l}: DNAT of its outer addresses, SNAT of the guest. */
    static String namespaceRules(NatConfig config, NamespaceLayout l) {
        String guest = formatAddress(config.namespaceInterfaceIp());
        String outer = formatAddress(l.namespaceIp());
        StringBuilder s = new StringBuilder();
        s.append("table ip ").append(NatConfig.NAMESPACE_TABLE).append(" {\n");
        s.append("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;\n");
        s.append("    iifname \"")
                .append(l.insideVeth())
                .append("\" ip daddr ")
                .append(outer)
                .append(" dnat to ")
                .append(guest)
                .append('\n');
        if (config.allowIncomingTraffic()) {
            s.append("    ip daddr ")
                    .append(formatAddress(l.insideVethIp()))
                    .append(" dnat to ")
                    .append(guest)
                    .append('\n');
        }
        s.append("  }\n  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
        s.append("    oifname \"")
                .append(l.insideVeth())
                .append("\" ip saddr ")
                .append(guest)
                .append(" snat to ")
                .append(outer)
                .append('\n');
        if (config.allowIncomingTraffic()) {
            s.append("    ip daddr ").append(guest).append(" masquerade\n");
        }
        s.append("  }\n");
        // A guest that resumes here after a migration may retransmit on a connection this namespace has not seen yet
        // (its peer's next packet, re-tracked to here, is still on its way): answered with a reset, that connection
        // would die; dropped, the guest retransmits it later, once the connection is tracked here.
        s.append("  chain input {\n    type filter hook input priority filter; policy accept;\n");
        s.append("    iifname \"")
                .append(config.namespaceInterface())
                .append("\" ip daddr ")
                .append(formatAddress(config.namespaceInterfaceGateway()))
                .append(" tcp flags & (syn | rst) == 0 ct state new drop\n");
        s.append("  }\n}\n");
        return s.toString();
    }

    /** Removes what {@code state} names; returns what was removed; throws if something remains. */
    private static List<String> teardown(NatState state, Path stateDir, CommandRunner runner) {
        Host host = new Host(runner);
        List<String> removed = new ArrayList<>();
        if (host.ipTable(state.hostTable()).isPresent()) {
            runner.attempt("nft", "delete", "table", "ip", state.hostTable());
            removed.add("nft table ip " + state.hostTable());
        }
        Set<String> links = Set.copyOf(host.links());
        Set<String> namespaces = Set.copyOf(host.namespaces());
        StringBuilder batch = new StringBuilder();
        for (String link : state.hostLinks()) {
            if (links.contains(link)) {
                batch.append("link del ").append(link).append('\n');
                removed.add("link " + link);
            }
        }
        for (String ns : state.namespaces()) {
            if (namespaces.contains(ns)) {
                batch.append("netns del ").append(ns).append('\n');
                removed.add("namespace " + ns);
            }
        }
        if (!batch.isEmpty()) {
            runner.attempt(List.of("ip", "-force", "-batch", "-"), batch.toString());
        }
        List<String> left = new ArrayList<>();
        if (host.ipTable(state.hostTable()).isPresent()) {
            left.add("nft table " + state.hostTable());
        }
        Set<String> linksAfter = Set.copyOf(host.links());
        Set<String> namespacesAfter = Set.copyOf(host.namespaces());
        state.hostLinks().stream().filter(linksAfter::contains).forEach(l -> left.add("link " + l));
        state.namespaces().stream().filter(namespacesAfter::contains).forEach(n -> left.add("namespace " + n));
        if (!left.isEmpty()) {
            throw new NetException("could not remove NAT with prefix '" + state.prefix() + "': still present: "
                    + String.join(", ", left));
        }
        restoreIpForward(state, stateDir, runner);
        NatState.delete(stateDir, state.prefix());
        return removed;
    }

    /** Puts ip_forward back to 0 if this NAT turned it on and no other drafter nat is still running. */
    private static void restoreIpForward(NatState state, Path stateDir, CommandRunner runner) {
        if (!"0".equals(state.ipForwardBefore())) {
            return;
        }
        boolean othersRunning = NatState.readAll(stateDir).stream()
                .anyMatch(s -> !s.prefix().equals(state.prefix()) && s.ownerAliveElsewhere());
        if (!othersRunning) {
            runner.attempt("sysctl", "-qw", "net.ipv4.ip_forward=0");
        }
    }

    private static String readIpForward() {
        try {
            return Files.readString(IP_FORWARD).strip();
        } catch (IOException e) {
            throw new NetException("could not read " + IP_FORWARD + ": " + e.getMessage(), e);
        }
    }
}
