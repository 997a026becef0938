package io.drafter.vm.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.vm.Network;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmInstance;
import io.drafter.vm.testing.TestGuest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tap NIC in a network namespace this test creates: QEMU runs in it through {@code nsenter --net} and stays in
 * this process's mount namespace (so the FUSE mounts of other peers are not copied into one of its own), the guest
 * configures eth0 as 172.16.0.2/30 and answers ping from the namespace's 172.16.0.1.
 */
@Tag("slow")
class NetworkTest {
    @TempDir
    Path tmp;

    private static int run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    @Test
    @Timeout(180)
    void guestAnswersOnItsFixedAddressInsideTheNamespace() throws Exception {
        Path bp = TestGuest.blueprint();
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to create a network namespace");
        assumeTrue(
                Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")),
                "needs iproute2");
        String ns = "drvm" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff));
        List<String[]> cleanup = new ArrayList<>();
        try {
            assumeTrue(run("ip", "netns", "add", ns) == 0, "could not create network namespace " + ns);
            cleanup.add(new String[] {"ip", "netns", "del", ns});
            assertEquals(0, run("ip", "netns", "exec", ns, "ip", "tuntap", "add", "tap0", "mode", "tap"));
            assertEquals(0, run("ip", "netns", "exec", ns, "ip", "addr", "add", "172.16.0.1/30", "dev", "tap0"));
            assertEquals(0, run("ip", "netns", "exec", ns, "ip", "link", "set", "tap0", "up"));
            VmConfig base = TestGuest.config(tmp, 128, false, "");
            VmConfig c = TestGuest.with(base, base.drives(), 128, new Network(ns, "tap0", Network.DEFAULT_MAC));
            try (VmInstance vm = new QemuVmm().boot(c)) {
                vm.awaitReady(Duration.ofSeconds(90));
                assertEquals(
                        Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")),
                        Files.readSymbolicLink(Path.of("/proc/" + vm.pid() + "/ns/mnt")),
                        "QEMU has a mount namespace of its own");
                assertTrue(vm.consoleTail(50).contains("eth0 172.16.0.2/30 via 172.16.0.1"), vm.consoleTail(50));
                boolean pinged = false;
                for (int i = 0; i < 20 && !pinged; i++) {
                    // busybox from the guest build: the host may have no ping
                    pinged = run(
                                    "ip",
                                    "netns",
                                    "exec",
                                    ns,
                                    bp.resolve(".work/x/bin/busybox").toString(),
                                    "ping",
                                    "-c",
                                    "1",
                                    "-W",
                                    "2",
                                    "172.16.0.2")
                            == 0;
                }
                assertTrue(pinged, "guest answered ping at 172.16.0.2 from " + ns);
            }
            assertEquals(List.of(), TestGuest.qemuUnder(tmp));
        } finally {
            for (String[] cmd : cleanup.reversed()) {
                run(cmd);
            }
        }
    }
}
