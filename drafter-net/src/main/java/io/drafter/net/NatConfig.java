package io.drafter.net;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Everything {@code drafter nat} needs to lay out its namespaces. Defaults ({@link #defaults()}) are Drafter's.
 *
 * @param hostInterface egress interface for the host masquerade; empty = the interface of the default route
 * @param hostVethCidr pool split into one /30 per namespace for the veth pair
 * @param namespaceVethCidr pool of per-namespace outer addresses (one per namespace)
 * @param blockedSubnetCidr forwarded traffic from and to this subnet is dropped (isolates namespaces)
 * @param namespaceInterface name of the tap inside each namespace
 * @param namespaceInterfaceGateway address of the tap (the guest's gateway)
 * @param namespaceInterfaceNetmask prefix length of the tap address
 * @param namespaceInterfaceIp the guest's address (fixed, so a snapshot resumes in any namespace)
 * @param namespaceInterfaceMac MAC address of the tap
 * @param namespacePrefix namespaces are named prefix + index ({@code ark0}, {@code ark1}, …)
 * @param namespaceCount how many namespaces; 0 = Drafter's default, min(256, usable outer addresses − 2)
 * @param allowIncomingTraffic DNAT the namespace's veth address to the guest (needed by the forwarder)
 * @param stateDir where the state file of a running NAT is kept
 */
public record NatConfig(
        String hostInterface,
        Ipv4Cidr hostVethCidr,
        Ipv4Cidr namespaceVethCidr,
        Ipv4Cidr blockedSubnetCidr,
        String namespaceInterface,
        int namespaceInterfaceGateway,
        int namespaceInterfaceNetmask,
        int namespaceInterfaceIp,
        String namespaceInterfaceMac,
        String namespacePrefix,
        int namespaceCount,
        boolean allowIncomingTraffic,
        Path stateDir) {

    /** Drafter's default for {@code --host-veth-cidr}. */
    public static final String DEFAULT_HOST_VETH_CIDR = "10.0.8.0/22";
    /** Drafter's default for {@code --namespace-veth-cidr} and {@code --blocked-subnet-cidr}. */
    public static final String DEFAULT_NAMESPACE_VETH_CIDR = "10.0.15.0/24";
    /** Default state directory. */
    public static final Path DEFAULT_STATE_DIR = Path.of("/run/drafter");

    private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_]*");
    private static final Pattern MAC = Pattern.compile("([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}");
    private static final int IFNAMSIZ = 15;

    /** Validates the combination; throws {@link IllegalArgumentException} with a one-line reason. */
    public NatConfig {
        if (!NAME.matcher(namespacePrefix).matches()) {
            throw new IllegalArgumentException(
                    "namespace prefix '" + namespacePrefix + "' must be a letter followed by letters, digits or _");
        }
        if (!NAME.matcher(namespaceInterface).matches() || namespaceInterface.length() > IFNAMSIZ) {
            throw new IllegalArgumentException("namespace interface '" + namespaceInterface + "' is not a valid name");
        }
        if (hostVethCidr.prefixLength() > 30) {
            throw new IllegalArgumentException("host veth CIDR " + hostVethCidr + " must be /30 or larger");
        }
        if (namespaceInterfaceNetmask < 1 || namespaceInterfaceNetmask > 30) {
            throw new IllegalArgumentException(
                    "namespace interface netmask /" + namespaceInterfaceNetmask + " must be between /1 and /30");
        }
        if (!MAC.matcher(namespaceInterfaceMac).matches()) {
            throw new IllegalArgumentException("'" + namespaceInterfaceMac + "' is not a MAC address");
        }
        if (namespaceCount < 0) {
            throw new IllegalArgumentException("namespace count " + namespaceCount + " is negative");
        }
        if (hostVethCidr.overlaps(namespaceVethCidr)) {
            throw new IllegalArgumentException(
                    "host veth CIDR " + hostVethCidr + " overlaps namespace veth CIDR " + namespaceVethCidr);
        }
        int count = effectiveCount(namespaceCount, namespaceVethCidr);
        if (count < 1) {
            throw new IllegalArgumentException("namespace veth CIDR " + namespaceVethCidr + " has no usable address");
        }
        if (count > namespaceVethCidr.usableHosts()) {
            throw new IllegalArgumentException("namespace veth CIDR " + namespaceVethCidr + " has only "
                    + namespaceVethCidr.usableHosts() + " addresses for " + count + " namespaces");
        }
        if (count > hostVethCidr.subnetCount(30)) {
            throw new IllegalArgumentException("host veth CIDR " + hostVethCidr + " has only "
                    + hostVethCidr.subnetCount(30) + " /30 prefixes for " + count + " namespaces");
        }
        String longest = vethName(namespacePrefix, count - 1, 1);
        if (longest.length() > IFNAMSIZ) {
            throw new IllegalArgumentException("interface name '" + longest + "' is longer than " + IFNAMSIZ
                    + " characters; use a shorter namespace prefix");
        }
    }

    /** Drafter's defaults: host interface of the default route, {@code ark} namespaces, 10.0.8.0/22, 10.0.15.0/24. */
    public static NatConfig defaults() {
        return builder().build();
    }

    /** A builder starting from Drafter's defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from this configuration. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.hostInterface = hostInterface;
        b.hostVethCidr = hostVethCidr;
        b.namespaceVethCidr = namespaceVethCidr;
        b.blockedSubnetCidr = blockedSubnetCidr;
        b.namespaceInterface = namespaceInterface;
        b.namespaceInterfaceGateway = namespaceInterfaceGateway;
        b.namespaceInterfaceNetmask = namespaceInterfaceNetmask;
        b.namespaceInterfaceIp = namespaceInterfaceIp;
        b.namespaceInterfaceMac = namespaceInterfaceMac;
        b.namespacePrefix = namespacePrefix;
        b.namespaceCount = namespaceCount;
        b.allowIncomingTraffic = allowIncomingTraffic;
        b.stateDir = stateDir;
        return b;
    }

    /** Builds a {@link NatConfig}; every field starts at Drafter's default. Not thread-safe. */
    public static final class Builder {
        private String hostInterface = "";
        private Ipv4Cidr hostVethCidr = Ipv4Cidr.parse(DEFAULT_HOST_VETH_CIDR);
        private Ipv4Cidr namespaceVethCidr = Ipv4Cidr.parse(DEFAULT_NAMESPACE_VETH_CIDR);
        private Ipv4Cidr blockedSubnetCidr = Ipv4Cidr.parse(DEFAULT_NAMESPACE_VETH_CIDR);
        private String namespaceInterface = "tap0";
        private int namespaceInterfaceGateway = Ipv4Cidr.parseAddress("172.16.0.1");
        private int namespaceInterfaceNetmask = 30;
        private int namespaceInterfaceIp = Ipv4Cidr.parseAddress("172.16.0.2");
        private String namespaceInterfaceMac = "02:0e:d9:fd:68:3d";
        private String namespacePrefix = "ark";
        private int namespaceCount;
        private boolean allowIncomingTraffic = true;
        private Path stateDir = DEFAULT_STATE_DIR;

        private Builder() {}

        /** Sets {@link NatConfig#hostInterface()}. */
        public Builder hostInterface(String v) {
            hostInterface = v;
            return this;
        }

        /** Sets {@link NatConfig#hostVethCidr()}. */
        public Builder hostVethCidr(Ipv4Cidr v) {
            hostVethCidr = v;
            return this;
        }

        /** Sets {@link NatConfig#namespaceVethCidr()}. */
        public Builder namespaceVethCidr(Ipv4Cidr v) {
            namespaceVethCidr = v;
            return this;
        }

        /** Sets {@link NatConfig#blockedSubnetCidr()}. */
        public Builder blockedSubnetCidr(Ipv4Cidr v) {
            blockedSubnetCidr = v;
            return this;
        }

        /** Sets {@link NatConfig#namespaceInterface()}. */
        public Builder namespaceInterface(String v) {
            namespaceInterface = v;
            return this;
        }

        /** Sets {@link NatConfig#namespaceInterfaceGateway()}. */
        public Builder namespaceInterfaceGateway(int v) {
            namespaceInterfaceGateway = v;
            return this;
        }

        /** Sets {@link NatConfig#namespaceInterfaceNetmask()}. */
        public Builder namespaceInterfaceNetmask(int v) {
            namespaceInterfaceNetmask = v;
            return this;
        }

        /** Sets {@link NatConfig#namespaceInterfaceIp()}. */
        public Builder namespaceInterfaceIp(int v) {
            namespaceInterfaceIp = v;
            return this;
        }

        /** Sets {@link NatConfig#namespaceInterfaceMac()}. */
        public Builder namespaceInterfaceMac(String v) {
            namespaceInterfaceMac = v;
            return this;
        }

        /** Sets {@link NatConfig#namespacePrefix()}. */
        public Builder namespacePrefix(String v) {
            namespacePrefix = v;
            return this;
        }

        /** Sets {@link NatConfig#namespaceCount()}. */
        public Builder namespaceCount(int v) {
            namespaceCount = v;
            return this;
        }

        /** Sets {@link NatConfig#allowIncomingTraffic()}. */
        public Builder allowIncomingTraffic(boolean v) {
            allowIncomingTraffic = v;
            return this;
        }

        /** Sets {@link NatConfig#stateDir()}. */
        public Builder stateDir(Path v) {
            stateDir = v;
            return this;
        }

        /** Validates and builds; throws {@link IllegalArgumentException} with a one-line reason. */
        public NatConfig build() {
            return new NatConfig(
                    hostInterface,
                    hostVethCidr,
                    namespaceVethCidr,
                    blockedSubnetCidr,
                    namespaceInterface,
                    namespaceInterfaceGateway,
                    namespaceInterfaceNetmask,
                    namespaceInterfaceIp,
                    namespaceInterfaceMac,
                    namespacePrefix,
                    namespaceCount,
                    allowIncomingTraffic,
                    stateDir);
        }
    }

    /** How many namespaces this configuration creates. */
    public int count() {
        return effectiveCount(namespaceCount, namespaceVethCidr);
    }

    /** The name of the nftables table this NAT owns in the host namespace. */
    public String hostTable() {
        return hostTableName(namespacePrefix);
    }

    /** The host table name for a namespace prefix. */
    public static String hostTableName(String prefix) {
        return "drafter_nat_" + prefix;
    }

    /** The table each namespace holds its DNAT/SNAT rules in. */
    public static final String NAMESPACE_TABLE = "drafter_nat";

    /** The planned layout of every namespace, index 0 first. */
    public List<NamespaceLayout> layouts() {
        int count = count();
        List<NamespaceLayout> all = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Ipv4Cidr pair = hostVethCidr.subnet(30, i);
            all.add(new NamespaceLayout(
                    namespacePrefix + i,
                    i,
                    vethName(namespacePrefix, i, 0),
                    vethName(namespacePrefix, i, 1),
                    pair.address(1),
                    pair.address(2),
                    namespaceVethCidr.address(1L + i)));
        }
        return all;
    }

    /** The veth name Drafter uses: {@code <prefix><index>-veth<end>} (0 inside the namespace, 1 on the host). */
    public static String vethName(String prefix, int index, int end) {
        return prefix + index + "-veth" + end;
    }

    private static int effectiveCount(int requested, Ipv4Cidr namespaceCidr) {
        return requested > 0 ? requested : (int) Math.min(256, namespaceCidr.usableHosts() - 2);
    }
}
