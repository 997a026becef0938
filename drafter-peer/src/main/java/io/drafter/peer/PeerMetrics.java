package io.drafter.peer;

import com.sun.net.httpserver.HttpServer;
import io.drafter.storage.DeviceStack;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A peer's metrics in Prometheus' text format on {@code /metrics}: Drafter's {@code drafter_peer_*} gauges plus the
 * counters of every device stack.
 *
 * <p><b>Note:</b> thread-safe; the HTTP server answers on one virtual-thread-per-request executor.
 */
public final class PeerMetrics {
    private final AtomicReference<Peer> peer = new AtomicReference<>();
    private final AtomicBoolean migratingTo = new AtomicBoolean();
    private final AtomicBoolean migratingFrom = new AtomicBoolean();

    /** Starts reporting {@code p}'s VM and devices. */
    public void attach(Peer p) {
        peer.set(p);
    }

    public void migratingTo(boolean on) {
        migratingTo.set(on);
    }

    public void migratingFrom(boolean on) {
        migratingFrom.set(on);
    }

    /** The metrics page now. */
    public String render() {
        StringBuilder b = new StringBuilder();
        Peer p = peer.get();
        boolean running = p != null && p.vm() != null && p.vm().isAlive();
        gauge(b, "drafter_peer_vm_running", "Whether the VM runs on this peer.", running ? 1 : 0);
        gauge(b, "drafter_peer_migrating_to", "Whether a migration out is in progress.", migratingTo.get() ? 1 : 0);
        gauge(b, "drafter_peer_migrating_from", "Whether a migration in is in progress.", migratingFrom.get() ? 1 : 0);
        if (p != null) {
            gauge(
                    b,
                    "drafter_peer_resume_ms",
                    "Duration of the last resume.",
                    p.lastResume().toMillis());
            Map<String, DeviceStack> stacks = p.stacks();
            String[][] names = {
                {"reads", "Reads served"},
                {"read_bytes", "Bytes read"},
                {"writes", "Writes served"},
                {"write_bytes", "Bytes written"},
                {"dirty_blocks", "Blocks dirty since the last collection"},
                {"waits", "Reads that waited for a post-copy block"}
            };
            for (String[] n : names) {
                b.append("# HELP drafter_device_")
                        .append(n[0])
                        .append(' ')
                        .append(n[1])
                        .append(".\n");
                b.append("# TYPE drafter_device_").append(n[0]).append(" gauge\n");
                stacks.forEach((name, s) -> {
                    DeviceStack.Counters c = s.counters();
                    long v = switch (n[0]) {
                        case "reads" -> c.reads();
                        case "read_bytes" -> c.readBytes();
                        case "writes" -> c.writes();
                        case "write_bytes" -> c.writeBytes();
                        case "dirty_blocks" -> c.dirtyBlocks();
                        default -> c.waits();
                    };
                    b.append(String.format(Locale.ROOT, "drafter_device_%s{device=\"%s\"} %d%n", n[0], name, v));
                });
            }
        }
        return b.toString();
    }

    private static void gauge(StringBuilder b, String name, String help, long value) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n');
        b.append("# TYPE ").append(name).append(" gauge\n");
        b.append(name).append(' ').append(value).append('\n');
    }

    /** Serves {@code /metrics} on {@code address} until the returned server is closed. */
    public Server serve(InetSocketAddress address) throws IOException {
        HttpServer http;
        try {
            http = HttpServer.create(address, 16);
        } catch (IOException e) {
            throw new IOException("could not serve metrics on " + address + ": " + e.getMessage(), e);
        }
        http.setExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        http.createContext("/metrics", ex -> {
            byte[] body = render().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream o = ex.getResponseBody()) {
                o.write(body);
            }
        });
        http.start();
        return new Server(http);
    }

    /** A running metrics endpoint. */
    public record Server(HttpServer http) implements AutoCloseable {
        /** The bound port. */
        public int port() {
            return http.getAddress().getPort();
        }

        @Override
        public void close() {
            http.stop(0);
        }
    }
}
