package io.drafter.peer.testing;

import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.TransportSecurity;
import io.drafter.net.PortForward;
import io.drafter.peer.PeerOptions;
import io.drafter.storage.config.DeviceConfig;
import io.drafter.vm.Console;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Builds {@link PeerOptions} by name instead of by position. Defaults are the record's own (no network namespace, a
 * one-minute resume timeout, post-copy on, no token, {@link Console#LOG}, no port forwards) and plain TCP, which the
 * tests' loopback migrations use.
 */
public final class PeerOptionsBuilder {
    private final List<DeviceConfig> devices;
    private final Path chrootBaseDir;
    private String netns = "";
    private Duration resumeTimeout = Duration.ofMinutes(1);
    private boolean disablePostcopy;
    private TransportSecurity security = TransportSecurity.plainTcp();
    private SharedToken token;
    private Console console = Console.LOG;
    private List<PortForward> portForwards = List.of();

    private PeerOptionsBuilder(List<DeviceConfig> devices, Path chrootBaseDir) {
        this.devices = devices;
        this.chrootBaseDir = chrootBaseDir;
    }

    /** A peer of {@code devices} whose instance directories go under {@code chrootBaseDir}. */
    public static PeerOptionsBuilder peerOptions(List<DeviceConfig> devices, Path chrootBaseDir) {
        return new PeerOptionsBuilder(devices, chrootBaseDir);
    }

    public PeerOptionsBuilder netns(String netns) {
        this.netns = netns;
        return this;
    }

    public PeerOptionsBuilder resumeTimeout(Duration resumeTimeout) {
        this.resumeTimeout = resumeTimeout;
        return this;
    }

    /** Resume a migrated-in VM only once every block is here. */
    public PeerOptionsBuilder withoutPostcopy() {
        this.disablePostcopy = true;
        return this;
    }

    public PeerOptionsBuilder security(TransportSecurity security) {
        this.security = security;
        return this;
    }

    public PeerOptionsBuilder token(SharedToken token) {
        this.token = token;
        return this;
    }

    public PeerOptionsBuilder console(Console console) {
        this.console = console;
        return this;
    }

    public PeerOptionsBuilder portForwards(List<PortForward> portForwards) {
        this.portForwards = portForwards;
        return this;
    }

    public PeerOptions build() {
        return new PeerOptions(
                devices, netns, chrootBaseDir, resumeTimeout, disablePostcopy, security, token, console, portForwards);
    }
}
