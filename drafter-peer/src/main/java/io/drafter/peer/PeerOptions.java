package io.drafter.peer;

import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.net.PortForward;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.vm.Console;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How a peer runs: its devices (Drafter's {@code --devices}), where the VM's network lives, how migrations are
 * secured, and where the peer keeps its run files.
 *
 * @param devices the devices, as parsed from {@code --devices}
 * @param netns the network namespace whose {@code tap0} the VM uses, or empty for a VM without network
 * @param chrootBaseDir where instance directories are made ({@code <chrootBaseDir>/qemu/<uuid>}: the FUSE mount and
 *     QEMU's sockets and console log; Drafter's {@code --chroot-base-dir})
 * @param resumeTimeout the longest a resume (state load + agent {@code AfterResume}) or a suspend may take
 * @param disablePostcopy resume a migrated-in VM only once every block is here
 * @param security TLS or explicit plain TCP for migrations
 * @param token a shared token that both peers must prove, or {@code null}
 * @param console where the guest console goes besides its log
 * @param portForwards host addresses forwarded to the guest while the VM runs on this peer (Drafter's forwarder JSON;
 *     every entry's {@code netns} must be this peer's): installed right after the VM resumes, removed when it suspends
 */
public record PeerOptions(
        List<DeviceConfig> devices,
        String netns,
        Path chrootBaseDir,
        Duration resumeTimeout,
        boolean disablePostcopy,
        TransportSecurity security,
        SharedToken token,
        Console console,
        List<PortForward> portForwards) {
    public PeerOptions {
        devices = List.copyOf(devices);
        portForwards = portForwards == null ? List.of() : List.copyOf(portForwards);
        Objects.requireNonNull(chrootBaseDir, "chrootBaseDir");
        Objects.requireNonNull(security, "security");
        netns = netns == null ? "" : netns;
        resumeTimeout = resumeTimeout == null ? Duration.ofMinutes(1) : resumeTimeout;
        console = console == null ? Console.LOG : console;
        if (devices.isEmpty()) {
            throw new IllegalArgumentException("could not start peer: --devices lists no device");
        }
        for (PortForward f : portForwards) {
            if (!f.netns().equals(netns)) {
                throw new IllegalArgumentException("could not forward " + f.externalAddr() + ": it names namespace "
                        + f.netns() + ", this peer's VM runs in " + (netns.isEmpty() ? "none (--netns '')" : netns));
            }
        }
    }

    /** The configuration of device {@code name}, or {@code null}. */
    public DeviceConfig device(String name) {
        for (DeviceConfig d : devices) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** Whether plain TCP without a token is what the user asked for. */
    public boolean plainTcpAllowed() {
        return security instanceof TransportSecurity.PlainTcp && token == null;
    }
}
