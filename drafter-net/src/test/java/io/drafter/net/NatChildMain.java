package io.drafter.net;

import java.nio.file.Path;

/**
 * A separate process for {@link NatCleanTest}: creates a NAT from its arguments, prints {@code ready} and waits to
 * be killed. Errors print their one line on stderr and exit 3.
 *
 * <p>Arguments: {@code prefix hostInterface hostVethCidr namespaceCidr count stateDir}.
 */
public final class NatChildMain {
    private NatChildMain() {}

    public static void main(String[] args) throws InterruptedException {
        NatConfig d = NatConfig.defaults();
        try {
            NatConfig config = new NatConfig(
                    args[1],
                    Ipv4Cidr.parse(args[2]),
                    Ipv4Cidr.parse(args[3]),
                    Ipv4Cidr.parse(args[3]),
                    d.namespaceInterface(),
                    d.namespaceInterfaceGateway(),
                    d.namespaceInterfaceNetmask(),
                    d.namespaceInterfaceIp(),
                    d.namespaceInterfaceMac(),
                    args[0],
                    Integer.parseInt(args[4]),
                    true,
                    Path.of(args[5]));
            Nat.create(config, new CommandRunner());
        } catch (NetException e) {
            System.err.println(e.getMessage());
            System.exit(3);
        }
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
