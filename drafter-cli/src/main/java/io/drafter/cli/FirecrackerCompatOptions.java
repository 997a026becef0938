package io.drafter.cli;

import picocli.CommandLine.Option;

/**
 * Drafter's Firecracker and jailer flags, accepted (with one or two dashes) so that Drafter command lines run
 * unchanged, and ignored: they mean nothing to QEMU.
 */
final class FirecrackerCompatOptions {
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
            hidden = true)
    Integer uid;

    @Option(
            names = {"--gid", "-gid"},
            hidden = true)
    Integer gid;

    @Option(
            names = {"--numa-node", "-numa-node"},
            hidden = true)
    Integer numaNode;

    @Option(
            names = {"--cgroup-version", "-cgroup-version"},
            hidden = true)
    Integer cgroupVersion;
}
