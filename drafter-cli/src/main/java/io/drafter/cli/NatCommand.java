package io.drafter.cli;

import io.drafter.linux.ExitActions;
import io.drafter.net.CommandRunner;
import io.drafter.net.Ipv4Cidr;
import io.drafter.net.NamespaceLayout;
import io.drafter.net.Nat;
import io.drafter.net.NatConfig;
import io.drafter.net.NatState;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code drafter nat}: creates the per-VM network namespaces ({@code ark0…}) with NAT, keeps them until SIGINT or
 * SIGTERM, then removes everything. {@code --clean} removes the leftovers of a run that was killed. Flags are
 * Drafter's {@code drafter-nat} flags, accepted with one or two dashes.
 */
@Command(
        name = "nat",
        description = {
            "Create network namespaces <prefix>0.. for VMs: tap0 172.16.0.1/30 (guest 172.16.0.2), a veth pair to the"
                    + " host, DNAT/SNAT to a per-namespace outer address and masquerade toward the host interface.",
            "Runs until SIGINT/SIGTERM, then removes everything it created."
        })
public final class NatCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(
            names = {"--host-interface", "-host-interface"},
            defaultValue = "",
            description = "Egress interface for the masquerade (default: interface of the default route).")
    String hostInterface;

    @Option(
            names = {"--host-veth-cidr", "-host-veth-cidr"},
            defaultValue = NatConfig.DEFAULT_HOST_VETH_CIDR,
            description = "Pool for the veth pairs, one /30 per namespace.")
    String hostVethCidr;

    @Option(
            names = {"--namespace-veth-cidr", "-namespace-veth-cidr"},
            defaultValue = NatConfig.DEFAULT_NAMESPACE_VETH_CIDR,
            description = "Pool of per-namespace outer addresses.")
    String namespaceVethCidr;

    @Option(
            names = {"--blocked-subnet-cidr", "-blocked-subnet-cidr"},
            defaultValue = NatConfig.DEFAULT_NAMESPACE_VETH_CIDR,
            description = "Forwarded traffic within this subnet is dropped.")
    String blockedSubnetCidr;

    @Option(
            names = {"--namespace-interface", "-namespace-interface"},
            defaultValue = "tap0",
            description = "Tap created in each namespace.")
    String namespaceInterface;

    @Option(
            names = {"--namespace-interface-gateway", "-namespace-interface-gateway"},
            defaultValue = "172.16.0.1",
            description = "Address of the tap, the guest's gateway.")
    String namespaceInterfaceGateway;

    @Option(
            names = {"--namespace-interface-netmask", "-namespace-interface-netmask"},
            defaultValue = "30",
            description = "Prefix length of the tap address.")
    int namespaceInterfaceNetmask;

    @Option(
            names = {"--namespace-interface-ip", "-namespace-interface-ip"},
            defaultValue = "172.16.0.2",
            description = "The guest's address.")
    String namespaceInterfaceIp;

    @Option(
            names = {"--namespace-interface-mac", "-namespace-interface-mac"},
            defaultValue = "02:0e:d9:fd:68:3d",
            description = "MAC of the tap.")
    String namespaceInterfaceMac;

    @Option(
            names = {"--namespace-prefix", "-namespace-prefix"},
            defaultValue = "ark",
            description = "Namespaces are named <prefix><n>.")
    String namespacePrefix;

    @Option(
            names = {"--namespace-count", "-namespace-count"},
            defaultValue = "0",
            description = "Number of namespaces (default: min(256, outer addresses - 2), 252 with the default pool).")
    int namespaceCount;

    @Option(
            names = {"--allow-incoming-traffic", "-allow-incoming-traffic"},
            defaultValue = "true",
            arity = "0..1",
            description = "DNAT the namespace's veth address to the guest (on unless =false).")
    boolean allowIncomingTraffic;

    @Option(
            names = {"--state-dir", "-state-dir"},
            defaultValue = "/run/drafter",
            description = "Where the state file nat-<prefix>.json is kept.")
    Path stateDir;

    @Option(
            names = {"--clean", "-clean"},
            description = "Remove what a killed 'drafter nat' with this prefix left behind, then exit.")
    boolean clean;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        CommandRunner runner = new CommandRunner();
        if (clean) {
            return UntilSignal.printCleaned("drafter nat", out, Nat.clean(namespacePrefix, stateDir, runner));
        }
        NatConfig config = config();
        // A signal while Nat.create runs waits for it, then removes everything. The exit action is for an exit that
        // bypasses the handlers: it removes what this process has created so far (its state file says what).
        try (StopSignals stop = StopSignals.install("drafter nat", System.err)) {
            ExitActions.Handle abort = ExitActions.register(
                    ExitActions.Stage.APPLICATION, "drafter nat abort", () -> Nat.abandon(config, runner));
            Nat nat;
            try {
                nat = Nat.create(config, runner);
            } finally {
                abort.cancel();
            }
            for (NamespaceLayout l : nat.namespaces()) {
                out.println(l.describe(config));
            }
            java.util.Map<String, Object> record = new java.util.LinkedHashMap<>();
            record.put("state", "running");
            record.put(
                    "namespaces",
                    nat.namespaces().stream().map(l -> l.describe(config)).toList());
            record.put("nftTable", config.hostTable());
            record.put(
                    "stateFile",
                    NatState.file(config.stateDir(), config.namespacePrefix()).toString());
            StatusRecord status = StatusRecord.start("nat", () -> record);
            out.println("drafter nat: created " + nat.namespaces().size() + " namespaces (" + config.namespacePrefix()
                    + "0.." + config.namespacePrefix() + (nat.namespaces().size() - 1) + "), nft table "
                    + config.hostTable() + ", masquerade via " + nat.hostInterface() + ", state "
                    + NatState.file(config.stateDir(), config.namespacePrefix()));
            return UntilSignal.await(
                    stop,
                    "drafter nat",
                    out,
                    () -> {
                        status.close();
                        nat.close();
                    },
                    "removed " + nat.namespaces().size() + " namespaces, nft table " + config.hostTable());
        }
    }

    private NatConfig config() {
        try {
            return NatConfig.builder()
                    .hostInterface(hostInterface)
                    .hostVethCidr(Ipv4Cidr.parse(hostVethCidr))
                    .namespaceVethCidr(Ipv4Cidr.parse(namespaceVethCidr))
                    .blockedSubnetCidr(Ipv4Cidr.parse(blockedSubnetCidr))
                    .namespaceInterface(namespaceInterface)
                    .namespaceInterfaceGateway(Ipv4Cidr.parseAddress(namespaceInterfaceGateway))
                    .namespaceInterfaceNetmask(namespaceInterfaceNetmask)
                    .namespaceInterfaceIp(Ipv4Cidr.parseAddress(namespaceInterfaceIp))
                    .namespaceInterfaceMac(namespaceInterfaceMac)
                    .namespacePrefix(namespacePrefix)
                    .namespaceCount(namespaceCount)
                    .allowIncomingTraffic(allowIncomingTraffic)
                    .stateDir(stateDir)
                    .build();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "invalid configuration: " + e.getMessage());
        }
    }
}
