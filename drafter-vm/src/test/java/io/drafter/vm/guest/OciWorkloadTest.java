package io.drafter.vm.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.vm.Drive;
import io.drafter.vm.VmConfig;
import io.drafter.vm.agent.AgentCall;
import io.drafter.vm.agent.AgentException;
import io.drafter.vm.qemu.QemuInstance;
import io.drafter.vm.qemu.QemuVmm;
import io.drafter.vm.testing.TestGuest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guest's OCI bundle convention: a bundle disk made here (config.json + rootfs with busybox) runs
 * with its args, env and cwd; its readiness annotation gates liveness; a hook it installs in
 * /run/drafter that fails makes BeforeSuspend fail by name.
 */
class OciWorkloadTest {
    @TempDir
    Path tmp;

    @Test
    @Timeout(180)
    void bundleRunsWithArgsEnvCwdAndAFailingHookIsReported() throws Exception {
        Path bp = TestGuest.blueprint();
        Path bundle = tmp.resolve("bundle");
        Files.createDirectories(bundle.resolve("rootfs/bin"));
        Files.createDirectories(bundle.resolve("rootfs/work dir"));
        Files.copy(bp.resolve(".work/x/bin/busybox"), bundle.resolve("rootfs/bin/busybox"));
        for (String app : List.of("sh", "echo", "sleep", "mkdir", "chmod", "pwd", "printf", "touch", "test")) {
            Files.createSymbolicLink(bundle.resolve("rootfs/bin/" + app), Path.of("busybox"));
        }
        Files.writeString(bundle.resolve("config.json"), """
                {"ociVersion":"1.0.2","process":{"terminal":false,"user":{"uid":0,"gid":0},
                  "args":["/bin/sh","-c","echo \\"workload cwd=$(pwd) greeting=$GREETING home=${HOME:-unset}\\"; mkdir -p /run/drafter/before-suspend.d; printf '#!/bin/sh\\\\nexit 3\\\\n' > /run/drafter/before-suspend.d/90-fail; chmod +x /run/drafter/before-suspend.d/90-fail; sleep 1; touch /tmp/up; while true; do sleep 1; done"],
                  "env":["PATH=/bin","GREETING=hi there"],"cwd":"/work dir"},
                 "root":{"path":"rootfs"},
                 "annotations":{"io.drafter.ready":"test -e /tmp/up"}}
                """);
        Path oci = tmp.resolve("oci.ext4");
        Process mkfs = new ProcessBuilder(
                        "mkfs.ext4", "-q", "-F", "-L", "oci", "-d", bundle.toString(), oci.toString(), "16M")
                .redirectErrorStream(true)
                .start();
        String mkfsLog = new String(mkfs.getInputStream().readAllBytes());
        assertTrue(mkfs.waitFor(60, TimeUnit.SECONDS) && mkfs.exitValue() == 0, mkfsLog);

        VmConfig base = TestGuest.config(tmp, 128, false, "");
        VmConfig c = TestGuest.with(base, List.of(base.drives().getFirst(), new Drive("oci", oci, false)), 128, null);
        try (QemuInstance vm = new QemuVmm().boot(c)) {
            vm.awaitReady(Duration.ofSeconds(90));
            String console = Files.readString(c.consoleLog(), StandardCharsets.ISO_8859_1);
            assertTrue(console.contains("workload cwd=/work dir greeting=hi there home=unset"), console);
            int started = console.indexOf("oci-run: starting");
            int ready = console.indexOf("drafter-liveness: ready");
            assertTrue(started >= 0 && ready > started, "liveness after the workload's readiness check:\n" + console);
            AgentException e = assertThrows(
                    AgentException.class, () -> vm.agentCall(new AgentCall.BeforeSuspend(), Duration.ofSeconds(30)));
            assertEquals(AgentException.Kind.GUEST_ERROR, e.kind());
            assertTrue(e.getMessage().contains("before-suspend hook failed"), e.getMessage());
            vm.agentCall(new AgentCall.Ping(), Duration.ofSeconds(30));
        }
        assertEquals(List.of(), TestGuest.qemuUnder(tmp));
    }
}
