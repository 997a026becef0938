package io.drafter.vm.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host client's handling of the wire format, including answers the real guest never sends
 * (malformed, missing {@code ok}); the real guest agent is exercised by the VM tests.
 */
class AgentClientTest {
    @TempDir
    Path tmp;

    /** Serves one connection on a Unix socket: sends {@code ready}, then answers each call line by line. */
    private CompletableFuture<String> guest(Path sock, ServerSocketChannel server) {
        return CompletableFuture.supplyAsync(() -> {
            StringBuilder seen = new StringBuilder();
            try (SocketChannel ch = server.accept()) {
                OutputStream out = Channels.newOutputStream(ch);
                BufferedReader in =
                        new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
                out.write("not json\n{\"event\":\"ready\"}\n".getBytes(StandardCharsets.UTF_8));
                String line;
                int pings = 0;
                while ((line = in.readLine()) != null) {
                    seen.append(line).append('\n');
                    String id = line.replaceAll(".*\"id\":(\\d+).*", "$1");
                    String reply = switch (line.replaceAll(".*\"call\":\"(\\w+)\".*", "$1")) {
                        case "Ping" -> ++pings == 1 ? "{\"id\":" + id + ",\"ok\":true}" : null;
                        case "BeforeSuspend" ->
                            "{\"id\":" + id + ",\"ok\":false,\"error\":\"before-suspend hook failed\"}";
                        case "AfterResume" -> "{\"id\":" + id + ",\"status\":\"fine\"}";
                        default -> null;
                    };
                    if (reply == null) {
                        break;
                    }
                    out.write((reply + "\n").getBytes(StandardCharsets.UTF_8));
                }
            } catch (Exception e) {
                seen.append("error ").append(e);
            }
            return seen.toString();
        });
    }

    @Test
    @Timeout(30)
    void answersAreTypedAndErrorsNamed() throws Exception {
        Path sock = tmp.resolve("agent.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            CompletableFuture<String> guest = guest(sock, server);
            try (AgentClient agent = AgentClient.connect(sock, Duration.ofSeconds(5), () -> true)) {
                agent.awaitReady(Duration.ofSeconds(5));
                assertTrue(agent.isReady());
                agent.call(new AgentCall.Ping(), Duration.ofSeconds(5));
                AgentException guestError = assertThrows(
                        AgentException.class, () -> agent.call(new AgentCall.BeforeSuspend(), Duration.ofSeconds(5)));
                assertEquals(AgentException.Kind.GUEST_ERROR, guestError.kind());
                assertEquals(
                        "could not complete BeforeSuspend in the guest: before-suspend hook failed",
                        guestError.getMessage());
                AgentException protocol = assertThrows(
                        AgentException.class, () -> agent.call(new AgentCall.AfterResume(1234), Duration.ofSeconds(5)));
                assertEquals(AgentException.Kind.PROTOCOL, protocol.kind());
                // this guest hangs up on the second Ping: the pending call fails as DISCONNECTED
                AgentException gone = assertThrows(
                        AgentException.class, () -> agent.call(new AgentCall.Ping(), Duration.ofSeconds(5)));
                assertEquals(AgentException.Kind.DISCONNECTED, gone.kind());
                AgentException closed = assertThrows(
                        AgentException.class, () -> agent.call(new AgentCall.Ping(), Duration.ofSeconds(1)));
                assertEquals(AgentException.Kind.DISCONNECTED, closed.kind());
            }
            String seen = guest.get(5, TimeUnit.SECONDS);
            assertTrue(seen.contains("{\"call\":\"AfterResume\",\"id\":3,\"epoch\":1234}"), seen);
        }
    }

    @Test
    @Timeout(30)
    void readinessAndConnectTimeouts() throws Exception {
        Path sock = tmp.resolve("none.sock");
        AgentException e =
                assertThrows(AgentException.class, () -> AgentClient.connect(sock, Duration.ofMillis(100), () -> true));
        assertEquals(AgentException.Kind.DISCONNECTED, e.kind());
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(sock));
            try (AgentClient agent = AgentClient.connect(sock, Duration.ofSeconds(5), () -> true);
                    SocketChannel quiet = server.accept()) {
                AgentException t = assertThrows(AgentException.class, () -> agent.awaitReady(Duration.ofMillis(200)));
                assertEquals(AgentException.Kind.TIMEOUT, t.kind());
                assertFalse(agent.isReady());
                assertTrue(quiet.isOpen());
            }
        }
    }
}
