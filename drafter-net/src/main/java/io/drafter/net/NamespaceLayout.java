package io.drafter.net;

/**
 * The addressing of one NAT namespace. Inside every namespace the tap and guest addresses are the same; only
 * these outer addresses differ.
 *
 * @param name namespace name, e.g. {@code ark0}
 * @param index position in the pool
 * @param insideVeth veth end inside the namespace ({@code ark0-veth0})
 * @param outsideVeth veth end in the host namespace ({@code ark0-veth1})
 * @param insideVethIp address of {@code insideVeth} (/30); the forwarder DNATs to it
 * @param outsideVethIp address of {@code outsideVeth} (/30); the namespace's default gateway
 * @param namespaceIp the namespace's outer address: guest traffic leaves with it, and the host reaches the guest
 *     through it
 */
public record NamespaceLayout(
        String name,
        int index,
        String insideVeth,
        String outsideVeth,
        int insideVethIp,
        int outsideVethIp,
        int namespaceIp) {

    /** One human-readable line describing the namespace. */
    public String describe(NatConfig config) {
        return name + ": " + config.namespaceInterface() + " "
                + Ipv4Cidr.formatAddress(config.namespaceInterfaceGateway())
                + "/" + config.namespaceInterfaceNetmask() + " (guest "
                + Ipv4Cidr.formatAddress(config.namespaceInterfaceIp())
                + "), veth " + insideVeth + " " + Ipv4Cidr.formatAddress(insideVethIp) + "/30 <-> " + outsideVeth + " "
                + Ipv4Cidr.formatAddress(outsideVethIp) + "/30, outer address " + Ipv4Cidr.formatAddress(namespaceIp);
    }
}
