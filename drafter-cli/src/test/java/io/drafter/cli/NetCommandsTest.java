package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.net.CommandRunner;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code drafter nat} and {@code drafter forwarder} as a user runs them: Go-style flags, one-line errors with
 * exit codes, and a NAT process that removes everything on SIGTERM. The host interface is a veth pair the
 * test creates; no traffic is sent.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NetCommandsTest {
    @TempDir
    Path stateDir;

    private final CommandRunner runner = new CommandRunner();
    private final String prefix =
            "dc" + (char) ('a' + new Random().nextInt(26)) + (char) ('a' + new Random().nextInt(26));
    private final List<String> links = new ArrayList<>();
    private Process child;

    @AfterEach
    void tearDown() throws Exception {
        if (child != null && child.isAlive()) {
            child.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
        if (isRoot()) {
            run("forwarder", "--clean");
            run("nat", "--clean", "--namespace-prefix", prefix, "--state-dir", stateDir.toString());
        }
        for (String l : links) {
            runner.attempt("ip", "link", "del", l);
        }
    }

    @Test
    void malformedPortForwardsIsOneLineAndExitTwo() {
        Outcome o = run("forwarder", "-port-forwards", "[{\"netns\":");
        assertEquals(2, o.code());
        assertTrue(o.err().startsWith("drafter: malformed port forwards JSON: "), o.err());
        assertEquals(2, o.err().lines().count(), o.err()); // the error and the usage hint
    }

    @Test
    void invalidNatConfigurationIsOneLineAndExitTwo() {
        Outcome o = run("nat", "--host-veth-cidr", "10.0.8.0/33");
        assertEquals(2, o.code());
        assertTrue(o.err().startsWith("drafter: invalid configuration: prefix length 33"), o.err());
    }

    @Test
    void unknownInterfaceIsOneLineAndExitOne() {
        assumeTrue(isRoot(), "needs root to reach the interface check");
        Outcome o = run(
                "nat",
                "-host-interface",
                prefix + "nope",
                "-namespace-prefix",
                prefix,
                "-state-dir",
                stateDir.toString());
        assertEquals(1, o.code(), o.err());
        assertEquals("drafter: could not use host interface '" + prefix + "nope': no such interface\n", o.err());
    }

    @Test
    void forwarderToMissingNamespaceIsOneLineAndExitOne() {
        assumeTrue(isRoot(), "needs root to reach the namespace check");
        Outcome o = run(
                "forwarder",
                "--port-forwards",
                "[{\"netns\":\"" + prefix
                        + "9\",\"internalPort\":\"6379\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1:3333\"}]");
        assertEquals(1, o.code(), o.err());
        assertEquals(
                "drafter: could not forward to namespace " + prefix
                        + "9: no such namespace (is drafter nat running?)\n",
                o.err());
    }

    @Test
    void natRunsUntilSigtermThenRemovesEverything() throws Exception {
        assumeTrue(isRoot(), "needs root to create namespaces");
        assumeTrue(runner.attempt("nft", "--version").ok(), "needs nftables (scripts/install-deps.sh)");
        String hostIf = prefix + "host";
        runner.run(
                "create veth host interface",
                List.of("ip", "link", "add", hostIf, "type", "veth", "peer", "name", prefix + "peer"));
        links.add(hostIf);
        List<String> cmd = javaCommand(
                "nat",
                "-host-interface",
                hostIf,
                "-host-veth-cidr",
                "10.231.8.0/29",
                "-namespace-veth-cidr=10.231.15.0/29",
                "-blocked-subnet-cidr=10.231.15.0/29",
                "-namespace-count",
                "2",
                "-namespace-prefix",
                prefix,
                "-state-dir",
                stateDir.toString());
        child = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        List<String> lines = new ArrayList<>();
        String line;
        while ((line = out.readLine()) != null) {
            lines.add(line);
            if (line.startsWith("drafter nat: running")) {
                break;
            }
        }
        assertTrue(lines.stream().anyMatch(l -> l.startsWith(prefix + "0: tap0 172.16.0.1/30")), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith(prefix + "1: ")), lines.toString());
        assertTrue(namespaces().contains(prefix + "1"));
        assertTrue(Files.exists(stateDir.resolve("nat-" + prefix + ".json")));

        // a forwarder into the first namespace, in its own process: its nft table exists until SIGTERM
        Process forwarder = startForwarder();
        BufferedReader fout =
                new BufferedReader(new InputStreamReader(forwarder.getInputStream(), StandardCharsets.UTF_8));
        List<String> flines = readUntil(fout, "drafter forwarder: running");
        String table = "drafter_fwd_" + forwarder.pid() + "_";
        assertTrue(flines.stream().anyMatch(l -> l.startsWith("tcp 127.0.0.1:")), flines.toString());
        assertTrue(tables().contains(table));
        forwarder.toHandle().destroy(); // SIGTERM
        String frest = String.join("\n", fout.lines().toList());
        assertTrue(forwarder.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, forwarder.exitValue(), "SIGTERM is the normal way to stop a forwarder: " + frest);
        assertTrue(frest.contains("drafter forwarder: removed nft table " + table), frest);
        assertTrue(!tables().contains(table));

        // a forwarder killed with SIGKILL leaves its table; 'drafter forwarder --clean' removes it
        Process killed = startForwarder();
        readUntil(
                new BufferedReader(new InputStreamReader(killed.getInputStream(), StandardCharsets.UTF_8)),
                "drafter forwarder: running");
        String killedTable = "drafter_fwd_" + killed.pid() + "_";
        killed.destroyForcibly();
        assertTrue(killed.waitFor(60, TimeUnit.SECONDS));
        assertTrue(tables().contains(killedTable));
        Outcome cleaned = run("forwarder", "--clean");
        assertEquals(0, cleaned.code(), cleaned.err());
        assertTrue(cleaned.out().contains("removed nft table ip " + killedTable), cleaned.out());
        assertTrue(!tables().contains(killedTable));

        child.toHandle().destroy(); // SIGTERM; Process.destroy() would also close our end of its output
        String rest = String.join("\n", out.lines().toList());
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, child.exitValue(), "SIGTERM is the normal way to stop drafter nat: " + rest);
        assertTrue(rest.contains("drafter nat: removed 2 namespaces"), rest);
        assertEquals(
                List.of(),
                namespaces().stream().filter(n -> n.startsWith(prefix)).toList());
        assertTrue(runner.run("list links", List.of("ip", "-o", "link"))
                .stdout()
                .lines()
                .noneMatch(l -> l.contains(prefix + "0-veth") || l.contains(prefix + "1-veth")));
        assertTrue(!runner.run("list tables", List.of("nft", "list", "tables"))
                .stdout()
                .contains("drafter_nat_" + prefix));
        assertTrue(!Files.exists(stateDir.resolve("nat-" + prefix + ".json")));
    }

    private Process startForwarder() throws java.io.IOException {
        return new ProcessBuilder(javaCommand(
                        "forwarder",
                        "-host-veth-cidr",
                        "10.231.8.0/29",
                        "-port-forwards",
                        "[{\"netns\":\"" + prefix + "0\",\"internalPort\":\"6379\",\"protocol\":\"tcp\","
                                + "\"externalAddr\":\"127.0.0.1:" + freePort() + "\"}]"))
                .redirectErrorStream(true)
                .start();
    }

    private static List<String> readUntil(BufferedReader in, String prefix) throws java.io.IOException {
        List<String> lines = new ArrayList<>();
        String line;
        while ((line = in.readLine()) != null) {
            lines.add(line);
            if (line.startsWith(prefix)) {
                break;
            }
        }
        return lines;
    }

    private String tables() {
        return runner.run("list tables", List.of("nft", "list", "tables")).stdout();
    }

    private static List<String> javaCommand(String... args) {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                Drafter.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static int freePort() throws java.io.IOException {
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private List<String> namespaces() {
        return runner.run("list namespaces", List.of("ip", "netns", "list"))
                .stdout()
                .lines()
                .map(l -> l.split("\\s+")[0])
                .toList();
    }

    private static boolean isRoot() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(l -> l.startsWith("Uid:"))
                    .anyMatch(l -> l.split("\\s+")[2].equals("0"));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    private record Outcome(int code, String out, String err) {}

    private static Outcome run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cli = Drafter.commandLine();
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new Outcome(code, out.toString(), err.toString());
    }
}
