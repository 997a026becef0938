package io.drafter.vm.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A malicious guest agent: a 10 MiB line and a flood of garbage neither fill the host's memory nor its logs. */
class AgentFloodTest {
    private static final int FLOOD_LINES = 20_000;

    @TempDir
    Path tmp;

    @Test
    @Timeout(60)
    void aHugeLineAndAFloodOfGarbageAreSkippedAndLoggedSparingly() throws Exception {
        Path sock = tmp.resolve("agent.sock");
        List<String> logged = new CopyOnWriteArrayList<>();
        CountDownLatch notLoggedCounted = new CountDownLatch(1);
        Logger jul = Logger.getLogger(AgentClient.class.getName());
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                String m = r.getMessage();
                Object[] p = r.getParameters();
                String line = p == null ? m : java.text.MessageFormat.format(m, p);
                logged.add(line);
                if (line.contains("were not logged")) {
                    notLoggedCounted.countDown();
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        jul.addHandler(capture);
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            CompletableFuture<Void> guest = CompletableFuture.runAsync(
                    () -> maliciousGuest(server), r -> Thread.ofPlatform().start(r));
            long startNs = System.nanoTime();
            try (AgentClient agent = AgentClient.connect(sock, Duration.ofSeconds(5), () -> true)) {
                agent.awaitReady(Duration.ofSeconds(30));
                agent.call(new AgentCall.Ping(), Duration.ofSeconds(30));
                guest.get(30, TimeUnit.SECONDS);
                assertTrue(
                        notLoggedCounted.await(10, TimeUnit.SECONDS),
                        "the lines not logged were counted: " + String.join("\n", logged));
                assertTrue(
                        agent.peakLineBufferBytes() <= AgentClient.MAX_LINE_BYTES,
                        "held at most one line's limit: " + agent.peakLineBufferBytes());
            }
            double seconds = (System.nanoTime() - startNs) / 1e9;
            assertTrue(
                    logged.stream()
                            .anyMatch(m -> m.contains("sent a line of " + (10 << 20) + " bytes, over the limit")),
                    String.join("\n", logged));
            // At most 5 a second, plus the closing count; each one short, whatever the guest sent.
            assertTrue(
                    logged.size() <= AgentClient.LOGS_PER_SECOND * (Math.ceil(seconds) + 1) + 1,
                    logged.size() + " log lines in " + seconds + " s");
            for (String m : logged) {
                assertTrue(m.length() < 400, "log line cut: " + m.length() + " chars");
                assertTrue(m.chars().allMatch(c -> c >= 0x20 && c < 0x7f || c == '…'), "escaped: " + m);
            }
            // Nothing is lost from the count: every bad line was either logged or counted as not logged.
            long shown = logged.stream().filter(m -> m.contains("sent a line")).count();
            long counted = 0;
            Matcher n = Pattern.compile("(\\d+) (similar lines before it|more lines that)")
                    .matcher(String.join("\n", logged));
            while (n.find()) {
                counted += Long.parseLong(n.group(1));
            }
            assertEquals(1 + FLOOD_LINES, shown + counted, String.join("\n", logged));
        } finally {
            jul.removeHandler(capture);
        }
    }

    /** 10 MiB without a newline's end until the last byte, then garbage lines with escapes, then a proper agent. */
    private static void maliciousGuest(ServerSocketChannel server) {
        try (SocketChannel ch = server.accept()) {
            OutputStream out = Channels.newOutputStream(ch);
            byte[] chunk = new byte[1 << 20];
            java.util.Arrays.fill(chunk, (byte) '{');
            for (int i = 0; i < 10; i++) {
                out.write(chunk);
            }
            out.write('\n');
            ByteArrayOutputStream flood = new ByteArrayOutputStream();
            for (int i = 0; i < FLOOD_LINES; i++) {
                flood.write(("garbage \u001b[2J line " + i + " " + "x".repeat(300) + "\n")
                        .getBytes(StandardCharsets.UTF_8));
            }
            out.write(flood.toByteArray());
            out.write("{\"event\":\"ready\"}\n".getBytes(StandardCharsets.UTF_8));
            // Answer the one Ping, then hang up.
            var reader = new BoundedLineReader(ch, 4096, skipped -> {});
            String call = reader.readLine();
            String id = call.replaceAll(".*\"id\":(\\d+).*", "$1");
            out.write(("{\"id\":" + id + ",\"ok\":true}\n").getBytes(StandardCharsets.UTF_8));
        } catch (Exception e) {
            throw new java.util.concurrent.CompletionException(e);
        }
    }

    @Test
    void linesAtTheLimitPassLongerOnesAreCountedAndSkipped() throws Exception {
        int max = 16;
        String fits = "a".repeat(max);
        String over = "b".repeat(max + 1);
        byte[] input = (fits + "\n" + over + "\n\nlast").getBytes(StandardCharsets.UTF_8);
        List<Long> skipped = new ArrayList<>();
        var reader = new BoundedLineReader(Channels.newChannel(new ByteArrayInputStream(input)), max, skipped::add);
        assertEquals(fits, reader.readLine());
        assertEquals("", reader.readLine());
        assertEquals(List.of((long) max + 1), skipped);
        assertEquals("last", reader.readLine(), "a last line without its newline");
        assertNull(reader.readLine());
        assertTrue(reader.peakBufferBytes() <= max);
    }

    @Test
    void theLimiterLetsAFewThroughPerSecondAndCountsTheRest() {
        LogLimiter l = new LogLimiter(2);
        long t = 1_000_000_000L;
        assertEquals(0, l.tryAcquire(t));
        assertEquals(0, l.tryAcquire(t + 1));
        assertEquals(-1, l.tryAcquire(t + 2));
        assertEquals(-1, l.tryAcquire(t + 3));
        assertEquals(2, l.tryAcquire(t + 1_000_000_000L), "the next window's first message carries the count");
        assertEquals(-1 + 1, l.tryAcquire(t + 1_000_000_001L));
        assertEquals(-1, l.tryAcquire(t + 1_000_000_002L));
        assertEquals(1, l.drainSuppressed());
        assertEquals(3, l.suppressedTotal());
    }
}
