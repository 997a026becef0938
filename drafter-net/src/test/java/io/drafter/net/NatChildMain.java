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
        try {
            NatConfig config = NatConfig.builder()
                    .namespacePrefix(args[0])
                    .hostInterface(args[1])
                    .hostVethCidr(Ipv4Cidr.parse(args[2]))
                    .namespaceVethCidr(Ipv4Cidr.parse(args[3]))
                    .blockedSubnetCidr(Ipv4Cidr.parse(args[3]))
                    .namespaceCount(Integer.parseInt(args[4]))
                    .stateDir(Path.of(args[5]))
                    .build();
            Nat.create(config, new CommandRunner());
        } catch (NetException e) {
            System.err.println(e.getMessage());
            System.exit(3);
        }
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE); // holds the namespaces until the test kills this JVM
    }
}
