package io.drafter.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import io.drafter.cli.lab.DrafterProcess;
import io.drafter.cli.lab.RedisLab;
import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code drafter status} and {@code --metrics} of real peers: a source running a Redis VM and a destination it migrates
 * to, each with its status record and its Prometheus endpoint (linted with promtool where it is installed).
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class OperationsProcessTest {
    static final Duration START = Duration.ofMinutes(2);
    static final Duration MIGRATION = Duration.ofMinutes(3);

    @TempDir
    static Path root;

    static RedisLab lab;

    @BeforeAll
    static void lab() throws Exception {
        lab = RedisLab.create(root.resolve("lab"));
    }

    @AfterAll
    static void closeLab() throws Exception {
        if (lab != null) {
            lab.close();
        }
    }

    @Test
    void statusAndMetricsFollowARealMigration() throws Exception {
        Path status = root.resolve("status");
        Map<String, String> env = Map.of("DRAFTER_STATUS_DIR", status.toString());
        Path token =
                PeerCommandTest.privateTokenFile(root.resolve("token"), "operations-test-token-0123456789abcdef\n");
        Path vms = root.resolve("vms");
        int redisPort = RedisLab.freePort();
        int listenPort = RedisLab.freePort();
        int metricsA = RedisLab.freePort();
        int metricsB = RedisLab.freePort();
        List<String> common = List.of(
                "peer",
                "--token-file",
                token.toString(),
                "--enable-output=false",
                "--chroot-base-dir",
                vms.toString(),
                "--resume-timeout",
                "1m");
        List<String> aArgs = new ArrayList<>(common);
        aArgs.addAll(List.of(
                "--raddr",
                "",
                "--laddr",
                "127.0.0.1:" + listenPort,
                "--netns",
                lab.namespace(0),
                "--port-forwards",
                RedisLab.forward(lab.namespace(0), redisPort),
                "--devices",
                RedisLab.devices(lab.pkg(), root.resolve("a")),
                "-metrics",
                "127.0.0.1:" + metricsA));
        List<String> bArgs = new ArrayList<>(common);
        bArgs.addAll(List.of(
                "--raddr",
                "127.0.0.1:" + listenPort,
                "--laddr",
                "",
                "--netns",
                lab.namespace(1),
                "--port-forwards",
                RedisLab.forward(lab.namespace(1), redisPort),
                "--devices",
                RedisLab.devices(root.resolve("b"), null),
                "--metrics",
                "127.0.0.1:" + metricsB));
        try (DrafterProcess a = DrafterProcess.start("A", root.resolve("A.log"), aArgs, env, null)) {
            a.await("Listening for connections", START);
            Map<String, Object> rec = awaitRecord(status, a.pid(), "running");
            assertEquals("peer", rec.get("command"));
            assertEquals(lab.namespace(0), rec.get("netns"), rec.toString());
            Map<?, ?> vm = (Map<?, ?>) rec.get("vm");
            assertEquals("running", vm.get("state"), rec.toString());
            assertEquals(RedisLab.MEMORY_MIB, ((Number) vm.get("memoryMiB")).intValue(), rec.toString());
            Map<?, ?> listeners = (Map<?, ?>) rec.get("listeners");
            assertEquals("127.0.0.1:" + listenPort, listeners.get("migration"), rec.toString());
            assertEquals("127.0.0.1:" + metricsA, listeners.get("metrics"), rec.toString());
            assertEquals(1, ((List<?>) rec.get("forwards")).size(), rec.toString());
            assertEquals(1, ((List<?>) rec.get("mounts")).size(), rec.toString());

            StringWriter out = new StringWriter();
            var cli = Drafter.commandLine();
            cli.setOut(new PrintWriter(out));
            assertEquals(0, cli.execute("status", "--dir", status.toString()));
            assertTrue(out.toString().contains("peer  pid " + a.pid() + "  running  since "), out.toString());

            String pageA = scrape(metricsA);
            assertTrue(pageA.contains("drafter_peer_vm_state{state=\"running\"} 1"), pageA);
            assertTrue(pageA.contains("drafter_device_reads_total{device=\"memory\"}"), pageA);
            assertTrue(pageA.contains("drafter_device_postcopy_wait_seconds_count{device=\"memory\"}"), pageA);
            lint(pageA);

            try (DrafterProcess b = DrafterProcess.start("B", root.resolve("B.log"), bArgs, env, null)) {
                b.await("Resumed VM", MIGRATION);
                assertEquals(0, a.waitExit(MIGRATION), a.tail());
                assertFalse(Files.exists(status.resolve("peer-" + a.pid() + ".json")), "A's record went with A");
                b.await("Migration in completed", MIGRATION);
                String pageB = scrape(metricsB);
                assertTrue(pageB.contains("drafter_migrations_total{direction=\"in\",outcome=\"completed\"} 1"), pageB);
                assertTrue(value(pageB, "drafter_migration_bytes_total{direction=\"in\"}") > 0, pageB);
                assertTrue(value(pageB, "drafter_migration_blocks_total{direction=\"in\"}") > 0, pageB);
                assertTrue(
                        value(pageB, "drafter_migration_device_blocks_total{device=\"memory\",direction=\"in\"}") > 0,
                        pageB);
                assertTrue(
                        value(pageB, "drafter_migration_device_data_bytes_total{device=\"memory\",direction=\"in\"}")
                                > 0,
                        pageB);
                assertTrue(
                        pageB.contains("drafter_migration_phase_seconds_count{direction=\"in\",phase=\"receiving\"} 1"),
                        pageB);
                assertTrue(pageB.contains("drafter_peer_vm_state{state=\"running\"} 1"), pageB);
                lint(pageB);
                Map<String, Object> recB = awaitRecord(status, b.pid(), "running");
                assertEquals(lab.namespace(1), recB.get("netns"), recB.toString());
                b.signal("TERM");
                assertEquals(0, b.waitExit(Duration.ofMinutes(1)), b.tail());
            }
        } finally {
            RedisLab.drafterQuietly("peer", "--clean", "--chroot-base-dir", vms.toString());
        }
        assertTrue(
                StatusRecord.readAll(status).isEmpty(),
                StatusRecord.readAll(status).toString());
    }

    /** Waits until the record of {@code pid} says {@code state}. */
    static Map<String, Object> awaitRecord(Path dir, long pid, String state) throws Exception {
        return Await.value(
                Duration.ofSeconds(20),
                "a record of pid " + pid + " in state " + state,
                () -> StatusRecord.readAll(dir).stream()
                        .filter(r -> r.get("pid") instanceof Number n && n.longValue() == pid)
                        .filter(r -> state.equals(r.get("state")))
                        .findFirst()
                        .orElse(null),
                () -> StatusRecord.readAll(dir).toString());
    }

    static String scrape(int port) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient()
                .send(
                        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                                .timeout(Duration.ofSeconds(10))
                                .build(),
                        HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        assertEquals(200, r.statusCode());
        return r.body();
    }

    static double value(String page, String series) {
        Matcher m =
                Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(page);
        assertTrue(m.find(), series + " not in the page");
        return Double.parseDouble(m.group(1));
    }

    /** {@code promtool check metrics} finds nothing to say (where promtool is installed). */
    static void lint(String page) throws Exception {
        String promtool = null;
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, "promtool"))) {
                promtool = Path.of(d, "promtool").toString();
                break;
            }
        }
        if (promtool == null) {
            System.err.println("OperationsProcessTest: promtool is not installed; the metrics page is not linted");
            return;
        }
        Path file = Files.writeString(Files.createTempFile(root, "metrics", ".txt"), page);
        Process p = new ProcessBuilder(promtool, "check", "metrics")
                .redirectInput(file.toFile())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "promtool did not finish");
        assertEquals(0, p.exitValue(), "promtool check metrics:\n" + out);
        assertTrue(out.isBlank(), "promtool check metrics:\n" + out);
    }
}
