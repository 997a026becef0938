package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.vm.Drive;
import io.drafter.vm.Network;
import io.drafter.vm.VmConfig;
import io.drafter.vm.VmInstance;
import io.drafter.vm.qemu.QemuVmm;
import io.drafter.vm.testing.TestGuest;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container path end to end, as a user takes it: {@code drafter oci example redis} builds the image from
 * Debian packages, {@code drafter oci build} turns it into an {@code oci.ext4}, the guest blueprint boots with it
 * and a tap NIC in a namespace this test creates, the guest reports ready only once Redis answers (the image's
 * {@code io.drafter.ready} check), and Redis answers {@code PING}, {@code SET} and {@code GET} over the network.
 */
class RedisVmTest {
    private static final String GUEST = "172.16.0.2";

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void redisFromAnOciImageAnswersInTheVm() throws Exception {
        TestGuest.blueprint();
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root: image build, namespace, tap");
        assumeTrue(onPath("ip") && onPath("python3") && onPath("apt-get"), "needs iproute2, python3 and apt-get");
        Path layout = tmp.resolve("redis-oci");
        String example = drafter("oci", "example", "redis", "--output", layout.toString());
        assumeTrue(
                !example.contains("could not download") && !example.contains("could not resolve"),
                "no Debian apt source reachable: " + example);
        assertEquals("", example);
        Path oci = tmp.resolve("oci.ext4");
        assertEquals(
                "",
                drafter("oci", "build", "--image", layout.toString(), "--output", oci.toString(), "--progress=false"));

        String ns = "drredis" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0xffff));
        List<List<String>> cleanup = new ArrayList<>();
        try {
            assumeTrue(run(30, "ip", "netns", "add", ns) == 0, "could not create network namespace " + ns);
            cleanup.add(List.of("ip", "netns", "del", ns));
            assertEquals(0, run(30, "ip", "netns", "exec", ns, "ip", "tuntap", "add", "tap0", "mode", "tap"));
            assertEquals(0, run(30, "ip", "netns", "exec", ns, "ip", "addr", "add", "172.16.0.1/30", "dev", "tap0"));
            assertEquals(0, run(30, "ip", "netns", "exec", ns, "ip", "link", "set", "tap0", "up"));
            assertEquals(0, run(30, "ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"));
            VmConfig base = TestGuest.config(tmp, 256, false, "");
            VmConfig c = TestGuest.with(
                    base,
                    List.of(base.drives().getFirst(), new Drive("oci", oci, false)),
                    256,
                    new Network(ns, "tap0", Network.DEFAULT_MAC));
            try (VmInstance vm = new QemuVmm().boot(c)) {
                vm.awaitReady(Duration.ofMinutes(3));
                String console = Files.readString(c.consoleLog(), StandardCharsets.ISO_8859_1);
                assertTrue(console.contains("oci-run: starting /usr/bin/redis-server"), console);
                assertTrue(console.contains("Ready to accept connections"), console);
                assertTrue(
                        console.indexOf("drafter-liveness: ready") > console.indexOf("Ready to accept connections"),
                        "ready reported only after Redis listens:\n" + console);
                // ready means Redis answers: no retry loop for the first command (a few tries for ARP on the tap)
                String reply = redis(ns);
                assertEquals("PONG|OK|drafter-in-a-vm", reply, vm.consoleTail(40));
            }
            assertEquals(List.of(), TestGuest.qemuUnder(tmp));
        } finally {
            for (List<String> cmd : cleanup.reversed()) {
                run(30, cmd.toArray(String[]::new));
            }
        }
    }

    /** Runs the drafter command in this JVM; returns its stderr ("" on success), failing on a non-zero exit. */
    private static String drafter(String... args) {
        StringWriter err = new StringWriter();
        var cli = Drafter.commandLine();
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        String e = err.toString().strip();
        return code == 0 ? "" : "exit " + code + ": " + e;
    }

    /** PING, SET, GET against the guest from inside the namespace (plain RESP over a socket, no redis-cli). */
    private static String redis(String ns) throws Exception {
        String script = """
                import socket, sys, time
                def cmd(f, s, *a):
                    s.sendall(b"*%d\\r\\n" % len(a) + b"".join(b"$%d\\r\\n%s\\r\\n" % (len(x), x) for x in a))
                    line = f.readline().rstrip(b"\\r\\n")
                    if line[:1] == b"$":
                        line = f.readline().rstrip(b"\\r\\n")
                    return line.decode().lstrip("+")
                for attempt in range(10):
                    try:
                        s = socket.create_connection((sys.argv[1], 6379), timeout=3)
                        break
                    except OSError:
                        time.sleep(0.5)
                else:
                    sys.exit("could not connect to %s:6379" % sys.argv[1])
                s.settimeout(10)
                f = s.makefile("rb")
                print("|".join([cmd(f, s, b"PING"), cmd(f, s, b"SET", b"k", b"drafter-in-a-vm"), cmd(f, s, b"GET", b"k")]))
                """;
        Process p = new ProcessBuilder("ip", "netns", "exec", ns, "python3", "-c", script, GUEST)
                .redirectErrorStream(true)
                .start();
        p.getOutputStream().close();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "timed out talking to Redis";
        }
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    }

    private static int run(int timeoutSeconds, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return Files.isExecutable(Path.of("/usr/sbin", tool)) || Files.isExecutable(Path.of("/sbin", tool));
    }
}
