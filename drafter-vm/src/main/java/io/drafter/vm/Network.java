package io.drafter.vm;

/**
 * A tap NIC for the guest, inside a network namespace: QEMU is started with {@code nsenter
 * --net=/var/run/netns/<netns>} so that {@code -netdev tap,ifname=<tap>} finds the tap created there.
 *
 * @param netns the namespace name (as under /var/run/netns), or {@code null} for the host's
 * @param tapInterface the tap device name, {@code tap0} in Drafter's layout
 * @param mac the guest MAC address, e.g. {@code 02:0e:d9:fd:68:3d}
 */
public record Network(String netns, String tapInterface, String mac) {
    /** Drafter's guest MAC. */
    public static final String DEFAULT_MAC = "02:0e:d9:fd:68:3d";

    /** Checks the values: they reach {@code nsenter --net=} and QEMU's {@code -netdev}/{@code -device} options. */
    public Network {
        try {
            if (netns != null) {
                VmValues.netns("netns", netns);
            }
            VmValues.tapInterface("tap interface", tapInterface);
            VmValues.mac("mac", mac);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("could not use network: " + e.getMessage(), e);
        }
    }
}
