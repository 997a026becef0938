package io.drafter.net;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Read-only questions about the host's network state (privileges, links, namespaces, addresses, nft tables),
 * answered through {@link CommandRunner} or {@code /proc}. Thread-safe.
 */
final class Host {
    private final CommandRunner runner;

    Host(CommandRunner runner) {
        this.runner = runner;
    }

    /** Throws {@code could not <step>: must run as root} unless the effective user id is 0. */
    static void requireRoot(String step) {
        if (effectiveUid() != 0) {
            throw new NetException("could not " + step + ": must run as root (effective uid " + effectiveUid() + ")");
        }
    }

    /** Throws {@code could not <step>: <tool> is not installed (...)} unless ip, nft and sysctl can be run. */
    void requireTools(String step) {
        record Tool(String name, String versionFlag, String debianPackage) {}
        for (Tool t : List.of(
                new Tool("ip", "-V", "iproute2"),
                new Tool("nft", "--version", "nftables"),
                new Tool("sysctl", "--version", "procps"))) {
            if (runner.attempt(t.name(), t.versionFlag()).exitCode() == -1) {
                throw new NetException("could not " + step + ": " + t.name() + " is not installed (Debian package "
                        + t.debianPackage() + "; scripts/install-deps.sh installs it)");
            }
        }
    }

    static long effectiveUid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return Long.parseLong(line.substring(4).trim().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new NetException("could not read /proc/self/status: " + e.getMessage(), e);
        }
        throw new NetException("could not read effective uid: no Uid line in /proc/self/status");
    }

    boolean linkExists(String name) {
        return runner.attempt("ip", "-o", "link", "show", "dev", name).ok();
    }

    /** Names of the host's links, without the {@code @peer} suffix {@code ip -o link} shows for veths. */
    List<String> links() {
        List<String> names = new ArrayList<>();
        for (String line : runner.run("list links", List.of("ip", "-o", "link", "show"))
                .stdout()
                .lines()
                .toList()) {
            String[] f = line.split(":\\s+", 3);
            if (f.length >= 2) {
                String n = f[1];
                int at = n.indexOf('@');
                names.add(at >= 0 ? n.substring(0, at) : n);
            }
        }
        return names;
    }

    /** Names of the named network namespaces ({@code ip netns list}). */
    List<String> namespaces() {
        List<String> names = new ArrayList<>();
        for (String line : runner.run("list namespaces", List.of("ip", "netns", "list"))
                .stdout()
                .lines()
                .toList()) {
            String s = line.strip();
            if (!s.isEmpty()) {
                names.add(s.split("\\s+", 2)[0]);
            }
        }
        return names;
    }

    /** Names of the {@code ip} family nft tables. */
    List<String> ipTables() {
        List<String> names = new ArrayList<>();
        CommandRunner.Result r = runner.run("list nft tables", List.of("nft", "list", "tables", "ip"));
        for (String line : r.stdout().lines().toList()) {
            String[] f = line.strip().split("\\s+");
            if (f.length == 3 && f[0].equals("table")) {
                names.add(f[2]);
            }
        }
        return names;
    }

    /** Every {@code ip} family nft table, name to text, from one {@code nft list ruleset ip}. */
    Map<String, String> ipRuleset() {
        Map<String, String> tables = new LinkedHashMap<>();
        String name = null;
        StringBuilder text = new StringBuilder();
        for (String line : runner.run("list nft ruleset", List.of("nft", "list", "ruleset", "ip"))
                .stdout()
                .lines()
                .toList()) {
            if (name == null) {
                String[] f = line.strip().split("\\s+");
                if (f.length == 4 && f[0].equals("table") && f[1].equals("ip") && f[3].equals("{")) {
                    name = f[2];
                    text.setLength(0);
                }
            } else if (line.equals("}")) {
                tables.put(name, text.toString());
                name = null;
            } else {
                text.append(line).append('\n');
            }
        }
        return tables;
    }

    /** The text of nft table {@code ip name}, or empty if it does not exist. */
    Optional<String> ipTable(String name) {
        CommandRunner.Result r = runner.attempt("nft", "list", "table", "ip", name);
        return r.ok() ? Optional.of(r.stdout()) : Optional.empty();
    }

    /** Every IPv4 address with its interface, in namespace {@code netns} (null = host). */
    List<InterfaceAddress> addresses(String netns) {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        if (netns != null) {
            cmd.addAll(List.of("-n", netns));
        }
        cmd.addAll(List.of("-4", "-o", "addr", "show"));
        List<InterfaceAddress> all = new ArrayList<>();
        for (String line : runner.run("list addresses" + (netns == null ? "" : " in namespace " + netns), cmd)
                .stdout()
                .lines()
                .toList()) {
            String[] fields = line.trim().split("\\s+");
            if (fields.length < 2) {
                continue;
            }
            String name = fields[1];
            valueAfter(line, "inet").ifPresent(cidr -> {
                int slash = cidr.indexOf('/');
                all.add(new InterfaceAddress(name, Ipv4Cidr.parseAddress(slash < 0 ? cidr : cidr.substring(0, slash))));
            });
        }
        return all;
    }

    /** Destinations of the host's main-table IPv4 routes (default route excluded). */
    List<Ipv4Cidr> routeDestinations() {
        List<Ipv4Cidr> all = new ArrayList<>();
        for (String line : runner.run("list routes", List.of("ip", "-4", "-o", "route", "show"))
                .stdout()
                .lines()
                .toList()) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 0 || f[0].isEmpty()) {
                continue;
            }
            String dst = switch (f[0]) {
                case "unicast", "unreachable", "blackhole", "prohibit", "throw", "local", "broadcast", "multicast" ->
                    f.length > 1 ? f[1] : "default";
                default -> f[0];
            };
            if (dst.equals("default")) {
                continue;
            }
            try {
                all.add(dst.contains("/") ? Ipv4Cidr.parse(dst) : new Ipv4Cidr(Ipv4Cidr.parseAddress(dst), 32));
            } catch (IllegalArgumentException e) {
                // a route format we do not know cannot conflict with ours in a way we could name
            }
        }
        return all;
    }

    /** The interface of the host's default route, if there is one. */
    Optional<String> defaultRouteInterface() {
        return runner.run("find the default route", List.of("ip", "-4", "-o", "route", "show", "default"))
                .stdout()
                .lines()
                .flatMap(line -> valueAfter(line, "dev").stream())
                .findFirst();
    }

    /** The host interface packets to {@code address} leave through. */
    String routeInterface(int address) {
        String ip = Ipv4Cidr.formatAddress(address);
        return valueAfter(
                        runner.run("find the route to " + ip, List.of("ip", "-4", "-o", "route", "get", ip))
                                .stdout(),
                        "dev")
                .orElseThrow(() -> new NetException("could not find the host interface toward " + ip + ": no route"));
    }

    /** The whitespace-separated token after {@code key} in {@code line} ({@code dev eth0} gives {@code eth0}). */
    static Optional<String> valueAfter(String line, String key) {
        String[] f = line.trim().split("\\s+");
        for (int i = 0; i + 1 < f.length; i++) {
            if (f[i].equals(key)) {
                return Optional.of(f[i + 1]);
            }
        }
        return Optional.empty();
    }

    /** An IPv4 address on an interface. */
    record InterfaceAddress(String interfaceName, int address) {}
}
