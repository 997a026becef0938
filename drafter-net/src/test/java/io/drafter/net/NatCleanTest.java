package io.drafter.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@link Nat#clean} after the NAT's process was killed with SIGKILL. Needs root; skips otherwise. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NatCleanTest {
    @TempDir
    Path stateDir;

    private NetLab lab;
    private Process child;

    @BeforeEach
    void setUp() {
        NetLab.assumeNetworkingAvailable();
        lab = new NetLab(stateDir).withUpstream();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (child != null && child.isAlive()) {
            child.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
        if (lab != null) {
            lab.close();
            assertEquals(List.of(), lab.leftovers(), "left behind after the test");
            assertEquals(lab.ipForwardAtStart, NetLab.ipForward(), "net.ipv4.ip_forward restored");
        }
    }

    @Test
    void cleanRemovesEverythingAKilledNatLeft() throws Exception {
        child = startChild(List.of(), lab.prefix, lab.upstreamLink);
        String line = readLine(child);
        assertEquals("ready", line, "child NAT did not start");
        assertTrue(Files.exists(NatState.file(stateDir, lab.prefix)), "state file written");

        NetException alive = assertThrows(NetException.class, () -> Nat.clean(lab.prefix, stateDir, lab.runner));
        assertTrue(alive.getMessage().contains("is still running"), alive.getMessage());

        child.destroyForcibly(); // SIGKILL: no shutdown hook runs
        assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        assertFalse(lab.natLeftovers().isEmpty(), "a killed NAT leaves its namespaces behind");

        List<String> removed = Nat.clean(lab.prefix, stateDir, lab.runner);
        assertTrue(removed.contains("namespace " + lab.prefix + "0"), removed.toString());
        assertTrue(removed.contains("namespace " + lab.prefix + "1"), removed.toString());
        assertTrue(removed.contains("nft table ip " + NatConfig.hostTableName(lab.prefix)), removed.toString());
        lab.assertNatGone();
    }

    @Test
    void notRootIsOneLineAndCreatesNothing() throws Exception {
        Path cp = readableClasspath();
        child = startChild(
                List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"),
                lab.prefix,
                lab.upstreamLink,
                cp);
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        String err = new String(child.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(3, child.exitValue(), err);
        assertEquals("could not create NAT namespaces: must run as root (effective uid 65534)", err);
        lab.assertNatGone();
    }

    private Process startChild(List<String> wrapper, String prefix, String hostIf) throws IOException {
        return startChild(wrapper, prefix, hostIf, null);
    }

    private Process startChild(List<String> wrapper, String prefix, String hostIf, Path classpathDir)
            throws IOException {
        List<String> cmd = new ArrayList<>(wrapper);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-cp");
        cmd.add(
                classpathDir == null
                        ? System.getProperty("java.class.path")
                        : classpathDir + "/*:" + classpathDir + "/classes");
        cmd.add(NatChildMain.class.getName());
        cmd.addAll(List.of(prefix, hostIf, NetLab.HOST_VETH_CIDR, NetLab.NAMESPACE_CIDR, "2", stateDir.toString()));
        return new ProcessBuilder(cmd)
                .redirectError(classpathDir == null ? ProcessBuilder.Redirect.INHERIT : ProcessBuilder.Redirect.PIPE)
                .start();
    }

    private static String readLine(Process p) throws IOException {
        return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
    }

    /** Copies this test's classpath where an unprivileged user can read it (the Maven repository is root-only). */
    private Path readableClasspath() throws IOException {
        Path dir = Files.createTempDirectory("drafter-net-cp");
        lab.closeLater(() -> deleteTree(dir));
        for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            Path p = Path.of(entry);
            if (Files.isDirectory(p)) {
                try (var files = Files.walk(p)) {
                    for (Path f : files.toList()) {
                        Path target =
                                dir.resolve("classes").resolve(p.relativize(f).toString());
                        if (Files.isDirectory(f)) {
                            Files.createDirectories(target);
                        } else if (!Files.exists(target)) {
                            Files.copy(f, target);
                        }
                    }
                }
            } else if (Files.isRegularFile(p)) {
                Files.copy(p, dir.resolve(p.getFileName().toString()));
            }
        }
        try (var all = Files.walk(dir)) {
            for (Path f : all.toList()) {
                f.toFile().setReadable(true, false);
                if (Files.isDirectory(f)) {
                    f.toFile().setExecutable(true, false);
                }
            }
        }
        return dir;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var all = Files.walk(dir)) {
            for (Path f : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }
}
