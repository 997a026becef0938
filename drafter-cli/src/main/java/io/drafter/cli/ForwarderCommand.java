package io.drafter.cli;

import io.drafter.net.CommandRunner;
import io.drafter.net.Forwarder;
import io.drafter.net.Ipv4Cidr;
import io.drafter.net.NatConfig;
import io.drafter.net.PortForward;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code drafter forwarder}: makes host addresses (loopback included) reach guest ports in NAT namespaces, until
 * SIGINT or SIGTERM. Takes Drafter's {@code --port-forwards} JSON unchanged.
 */
@Command(
        name = "forwarder",
        description = {
            "Forward host addresses to guest ports in namespaces created by 'drafter nat'.",
            "Runs until SIGINT/SIGTERM, then removes its rules."
        })
public final class ForwarderCommand implements Callable<Integer> {
    /** Drafter's default {@code --port-forwards}. */
    static final String DEFAULT_PORT_FORWARDS =
            "[{\"netns\":\"ark0\",\"internalPort\":\"6379\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1:3333\"}]";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(
            names = {"--host-veth-cidr", "-host-veth-cidr"},
            defaultValue = NatConfig.DEFAULT_HOST_VETH_CIDR,
            description = "The NAT's veth pool, used to find each namespace's address.")
    String hostVethCidr;

    @Option(
            names = {"--port-forwards", "-port-forwards"},
            defaultValue = DEFAULT_PORT_FORWARDS,
            description = "JSON list of {netns, internalPort, protocol, externalAddr}.")
    String portForwards;

    @Option(
            names = {"--clean", "-clean"},
            description = "Remove the nft tables of forwarders that were killed, then exit.")
    boolean clean;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        CommandRunner runner = new CommandRunner();
        if (clean) {
            return UntilSignal.printCleaned("drafter forwarder", out, Forwarder.clean(runner));
        }
        List<PortForward> forwards;
        Ipv4Cidr pool;
        try {
            forwards = PortForward.parseList(portForwards);
            pool = Ipv4Cidr.parse(hostVethCidr);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        try (StopSignals stop = StopSignals.install("drafter forwarder", System.err)) {
            Forwarder forwarder = Forwarder.open(forwards, pool, runner);
            for (Forwarder.Resolved r : forwarder.forwards()) {
                out.println(r.describe());
            }
            out.println("drafter forwarder: nft table " + forwarder.table());
            java.util.Map<String, Object> record = new java.util.LinkedHashMap<>();
            record.put("state", "running");
            record.put(
                    "forwards",
                    forwarder.forwards().stream()
                            .map(Forwarder.Resolved::describe)
                            .toList());
            record.put("nftTable", forwarder.table());
            StatusRecord status = StatusRecord.start("forwarder", () -> record);
            return UntilSignal.await(
                    stop,
                    "drafter forwarder",
                    out,
                    () -> {
                        status.close();
                        forwarder.close();
                    },
                    "removed nft table " + forwarder.table());
        }
    }
}
