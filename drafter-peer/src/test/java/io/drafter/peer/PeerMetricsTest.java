package io.drafter.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.destination.DestinationPhase;
import io.drafter.migration.source.SourceListener;
import io.drafter.migration.source.SourcePhase;
import java.io.File;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
class PeerMetricsTest {
    @TempDir
    Path dir;

    /** A migration out and one in as the engines report them, with a device name that needs escaping. */
    private static PeerMetrics measuredMigrations() {
        PeerMetrics m = new PeerMetrics();
        SourceListener out = m.outListener();
        out.onPhase(SourcePhase.HANDSHAKE, SourcePhase.FULL_COPY, Duration.ofMillis(3));
        out.onPhase(SourcePhase.FULL_COPY, SourcePhase.DIRTY_ROUNDS, Duration.ofMillis(800));
        out.onDirtyRound("memory", 1, 120, false);
        out.onDirtyRound("disk \"a\"\\b", 1, 3, true);
        out.onPhase(SourcePhase.DIRTY_ROUNDS, SourcePhase.SUSPENDING, Duration.ofMillis(400));
        out.onPhase(SourcePhase.SUSPENDING, SourcePhase.FINAL_SYNC, Duration.ofMillis(90));
        out.onPhase(SourcePhase.FINAL_SYNC, SourcePhase.AUTHORITY_SENT, Duration.ofMillis(10));
        out.onPhase(SourcePhase.AUTHORITY_SENT, SourcePhase.GRANTED, Duration.ofMillis(60));
        out.onPriorityRequest("memory", 7);
        out.onPhase(SourcePhase.GRANTED, SourcePhase.COMPLETED, Duration.ofMillis(5));
        DestinationListener in = m.inListener();
        in.onPhase(DestinationPhase.HANDSHAKE, DestinationPhase.RECEIVING, Duration.ofMillis(2));
        in.onProgress("memory", 10, 40);
        in.onMissingBlock("memory", 11);
        in.onPhase(DestinationPhase.RECEIVING, DestinationPhase.FAILED, Duration.ofMillis(20));
        return m;
    }

    @Test
    void theMigrationsAreMeasuredWithCountersHistogramsAndEscapedLabels() {
        String text = measuredMigrations().render();
        assertTrue(text.contains("# TYPE drafter_migrations_total counter"), text);
        assertTrue(text.contains("drafter_migrations_total{direction=\"out\",outcome=\"completed\"} 1"), text);
        assertTrue(text.contains("drafter_migrations_total{direction=\"in\",outcome=\"failed\"} 1"), text);
        assertTrue(text.contains("# TYPE drafter_migration_paused_seconds histogram"), text);
        assertTrue(text.contains("drafter_migration_paused_seconds_count 1"), text);
        assertTrue(
                text.contains("drafter_migration_phase_seconds_count{direction=\"out\",phase=\"full_copy\"} 1"), text);
        assertTrue(text.contains("drafter_migration_dirty_blocks_total{device=\"memory\"} 120"), text);
        assertTrue(text.contains("drafter_migration_dirty_rounds_total{device=\"disk \\\"a\\\"\\\\b\"} 1"), text);
        assertTrue(
                text.contains("drafter_migration_postcopy_requests_total{device=\"memory\",direction=\"in\"} 1")
                        || text.contains(
                                "drafter_migration_postcopy_requests_total{direction=\"in\",device=\"memory\"} 1"),
                text);
        assertTrue(text.contains("drafter_migration_in_device_blocks_present{device=\"memory\"} 10"), text);
        assertTrue(text.contains("drafter_migration_bytes_total{direction=\"out\"} 0"), text);
        assertTrue(text.contains("drafter_peer_vm_state{state=\"none\"} 1"), text);
        assertTrue(text.contains("# TYPE drafter_peer_vm_running gauge"), text);
        assertTrue(text.contains("jvm_memory_used_bytes"), text);
        assertTrue(text.contains("process_cpu_seconds_total"), text);
    }

    @Test
    void thePausedWindowStartsAtTheVmsPauseNotAtTheSuspendsStart() {
        long[] pausedAt = {System.nanoTime() - Duration.ofSeconds(5).toNanos()}; // an earlier migration's pause
        PeerMetrics m = new PeerMetrics(() -> pausedAt[0]);
        SourceListener out = m.outListener();
        out.onPhase(SourcePhase.DIRTY_ROUNDS, SourcePhase.SUSPENDING, Duration.ofMillis(400));
        // BeforeSuspend and the last live round ran with the VM running; it paused 40 ms before the grant.
        pausedAt[0] = System.nanoTime() - Duration.ofMillis(40).toNanos();
        out.onPhase(SourcePhase.SUSPENDING, SourcePhase.FINAL_SYNC, Duration.ofMillis(300));
        out.onPhase(SourcePhase.FINAL_SYNC, SourcePhase.AUTHORITY_SENT, Duration.ofMillis(1));
        out.onPhase(SourcePhase.AUTHORITY_SENT, SourcePhase.GRANTED, Duration.ofMillis(30));
        String text = m.render();
        assertTrue(text.contains("drafter_migration_paused_seconds_bucket{le=\"0.025\"} 0"), text);
        assertTrue(text.contains("drafter_migration_paused_seconds_bucket{le=\"0.05\"} 1"), text);

        // No pause since the suspend began (nothing paused a VM): from the suspend's start, not the old pause.
        out.onPhase(SourcePhase.DIRTY_ROUNDS, SourcePhase.SUSPENDING, Duration.ofMillis(400));
        out.onPhase(SourcePhase.AUTHORITY_SENT, SourcePhase.GRANTED, Duration.ofMillis(30));
        text = m.render();
        assertTrue(text.contains("drafter_migration_paused_seconds_count 2"), text);
        assertTrue(text.contains("drafter_migration_paused_seconds_bucket{le=\"0.05\"} 2"), text);
    }

    @Test
    void disabledMetricsMeasureNothing() {
        PeerMetrics off = PeerMetrics.disabled();
        off.outListener().onPhase(SourcePhase.HANDSHAKE, SourcePhase.FULL_COPY, Duration.ofMillis(1));
        off.inListener().onProgress("memory", 1, 2);
        off.migratingTo(true);
        assertEquals("", off.render());
    }

    /** Scrapes the endpoint over HTTP and lints the page with Prometheus' own promtool. */
    @Test
    void theEndpointPassesPromtool() throws Exception {
        PeerMetrics m = measuredMigrations();
        String page;
        try (PeerMetrics.Server server = m.serve(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            HttpResponse<String> r = HttpClient.newHttpClient()
                    .send(
                            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/metrics"))
                                    .timeout(Duration.ofSeconds(10))
                                    .build(),
                            HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            assertEquals(200, r.statusCode());
            assertTrue(
                    r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"),
                    r.headers().toString());
            page = r.body();
        }
        assertTrue(page.contains("drafter_migrations_total{direction=\"out\",outcome=\"completed\"} 1"), page);
        String promtool = promtool();
        assumeTrue(
                promtool != null,
                "promtool is not installed (Debian package prometheus; scripts/install-deps.sh installs it): the"
                        + " page is not linted");
        Path file = Files.writeString(dir.resolve("metrics.txt"), page);
        Process p = new ProcessBuilder(promtool, "check", "metrics")
                .redirectInput(file.toFile())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "promtool did not finish");
        assertEquals(0, p.exitValue(), "promtool check metrics:\n" + out);
        assertTrue(out.isBlank(), "promtool check metrics found problems:\n" + out);
    }

    private static String promtool() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(d, "promtool");
            if (!d.isEmpty() && Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }
}
