package io.drafter.cli;

import io.drafter.vm.VmmUser;
import picocli.CommandLine.Option;

/**
 * Drafter's Firecracker and jailer flags, accepted (with one or two dashes) so that Drafter command lines run
 * unchanged. {@code --uid}/{@code --gid} are honoured: QEMU drops to them once it has opened its devices. The others
 * mean nothing to QEMU and are ignored, except that {@code --cgroup-version} refuses what it cannot honour.
 */
final class FirecrackerCompatOptions {
    /** Drafter's default cgroup version: the only one accepted, since no cgroup is set up either way. */
    static final int CGROUP_VERSION = 2;

    @Option(
            names = {"--firecracker-bin", "-firecracker-bin"},
            hidden = true)
    String firecrackerBin;

    @Option(
            names = {"--jailer-bin", "-jailer-bin"},
            hidden = true)
    String jailerBin;

    @Option(
            names = {"--uid", "-uid"},
            description = "Run QEMU as this user once it has opened its devices (with --gid; 0 = root, the default).")
    Integer uid;

    @Option(
            names = {"--gid", "-gid"},
            description = "Group QEMU runs as with --uid (not 0).")
    Integer gid;

    @Option(
            names = {"--numa-node", "-numa-node"},
            hidden = true)
    Integer numaNode;

    @Option(
            names = {"--cgroup-version", "-cgroup-version"},
            defaultValue = "" + CGROUP_VERSION,
            description = "Not implemented: QEMU stays in drafter's own cgroup (no jailer). Only ${DEFAULT-VALUE},"
                    + " Drafter's default, is accepted.")
    int cgroupVersion;

    /**
     * Checks the flags that are not ignored and returns the user QEMU is to run as, or {@code null} for root.
     *
     * @throws IllegalArgumentException naming the flag when it cannot be honoured
     */
    VmmUser validate() {
        if (cgroupVersion != CGROUP_VERSION) {
            throw new IllegalArgumentException("could not use --cgroup-version " + cgroupVersion
                    + ": cgroups are not implemented (QEMU stays in drafter's cgroup); only " + CGROUP_VERSION
                    + " is accepted");
        }
        int u = uid == null ? 0 : uid;
        int g = gid == null ? 0 : gid;
        if (u < 0 || g < 0) {
            throw new IllegalArgumentException(
                    "could not use --" + (u < 0 ? "uid " + u : "gid " + g) + ": ids are 0 or above");
        }
        if (u == 0 && g == 0) {
            return null;
        }
        if (u == 0) {
            throw new IllegalArgumentException(
                    "could not use --gid " + g + " without --uid: QEMU would still run as root");
        }
        if (g == 0) {
            throw new IllegalArgumentException("could not use --uid " + u + ": give --gid too (not 0: group root"
                    + " would open every root-group file to QEMU)");
        }
        return new VmmUser(u, g);
    }
}
