package io.drafter.vm.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * Host side of the guest agent: line-delimited JSON over the virtio-serial port that QEMU exposes as
 * a Unix socket ({@code -chardev socket,server=on}).
 *
 * <p>Wire format, one JSON object per line. Host to guest: {@code {"call":"BeforeSuspend","id":1}},
 * {@code {"call":"AfterResume","id":2,"epoch":1732570000}}, {@code {"call":"Ping","id":3}}. Guest to
 * host: {@code {"id":1,"ok":true}}, {@code {"id":2,"ok":false,"error":"..."}}, and once per boot the
 * liveness event {@code {"event":"ready"}}.
 *
 * <p>Threading: calls may come from any thread; one named platform thread reads the socket.
 */
public final class AgentClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path socket;
    private final SocketChannel channel;
    private final BufferedReader reader;
    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<Long, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final CountDownLatch ready = new CountDownLatch(1);
    private final Thread readerThread;
    private volatile boolean closed;

    private AgentClient(Path socket, SocketChannel channel) {
        this.socket = socket;
        this.channel = channel;
        this.reader =
                new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        this.readerThread = Thread.ofPlatform()
                .name("agent-reader-" + socket.getFileName())
                .daemon()
                .start(this::readLoop);
    }

    /** Connects to the agent socket, retrying until {@code timeout} passes or {@code alive} turns false. */
    public static AgentClient connect(Path socket, Duration timeout, BooleanSupplier alive) throws AgentException {
        long deadlineNs = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (!alive.getAsBoolean()) {
                throw new AgentException(
                        AgentException.Kind.DISCONNECTED,
                        "could not connect to agent socket " + socket + ": QEMU exited");
            }
            try {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                try {
                    ch.connect(UnixDomainSocketAddress.of(socket));
                } catch (IOException e) {
                    ch.close();
                    throw e;
                }
                return new AgentClient(socket, ch);
            } catch (IOException e) {
                if (System.nanoTime() > deadlineNs) {
                    throw new AgentException(
                            AgentException.Kind.DISCONNECTED,
                            "could not connect to agent socket " + socket + ": " + e.getMessage());
                }
                try {
                    Thread.sleep(5);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new AgentException(
                            AgentException.Kind.DISCONNECTED, "could not connect to agent: interrupted");
                }
            }
        }
    }

    /** Waits up to {@code timeout} for the guest's {@code {"event":"ready"}} liveness message. */
    public void awaitReady(Duration timeout) throws AgentException {
        try {
            if (!ready.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                throw new AgentException(
                        AgentException.Kind.TIMEOUT, "could not see guest liveness (ready) within " + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException(AgentException.Kind.TIMEOUT, "could not wait for guest liveness: interrupted");
        }
    }

    /** Whether the guest has announced readiness on this connection. */
    public boolean isReady() {
        return ready.getCount() == 0;
    }

    /**
     * Sends {@code call} and waits up to {@code timeout} for the guest's answer.
     *
     * @throws AgentException with {@link AgentException.Kind#TIMEOUT} when no answer came in time,
     *     {@link AgentException.Kind#GUEST_ERROR} when the guest reported a failure, {@link
     *     AgentException.Kind#DISCONNECTED} when the channel is gone
     */
    public void call(AgentCall call, Duration timeout) throws AgentException {
        long id = nextId.getAndIncrement();
        ObjectNode msg = JSON.createObjectNode().put("call", call.name()).put("id", id);
        if (call instanceof AgentCall.AfterResume(long epochSeconds)) {
            msg.put("epoch", epochSeconds);
        }
        CompletableFuture<JsonNode> answer = new CompletableFuture<>();
        pending.put(id, answer);
        try {
            if (closed) {
                throw new AgentException(
                        AgentException.Kind.DISCONNECTED, "could not call " + call.name() + ": agent channel closed");
            }
            byte[] bytes = (msg + "\n").getBytes(StandardCharsets.UTF_8);
            synchronized (channel) {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                while (buf.hasRemaining()) {
                    channel.write(buf);
                }
            }
            JsonNode reply = answer.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (!reply.path("ok").isBoolean()) {
                throw new AgentException(
                        AgentException.Kind.PROTOCOL,
                        "could not complete " + call.name() + ": guest answered without a boolean ok: " + reply);
            }
            if (!reply.get("ok").asBoolean()) {
                throw new AgentException(
                        AgentException.Kind.GUEST_ERROR,
                        "could not complete " + call.name() + " in the guest: "
                                + reply.path("error").asText("no reason given"));
            }
        } catch (AgentException e) {
            throw e;
        } catch (TimeoutException e) {
            throw new AgentException(
                    AgentException.Kind.TIMEOUT,
                    "could not complete " + call.name() + ": guest agent did not answer within " + timeout);
        } catch (ExecutionException e) {
            throw new AgentException(
                    AgentException.Kind.DISCONNECTED,
                    "could not complete " + call.name() + ": " + e.getCause().getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AgentException(
                    AgentException.Kind.TIMEOUT, "could not complete " + call.name() + ": interrupted");
        } catch (IOException e) {
            throw new AgentException(
                    AgentException.Kind.DISCONNECTED,
                    "could not send " + call.name() + " on " + socket + ": " + e.getMessage());
        } finally {
            pending.remove(id);
        }
    }

    private void readLoop() {
        IOException end = new IOException("agent socket " + socket + " closed");
        try {
            String line;
            while ((line = reader.readLine()) != null) {
                JsonNode node;
                try {
                    node = JSON.readTree(line);
                } catch (IOException e) {
                    System.getLogger(AgentClient.class.getName())
                            .log(System.Logger.Level.WARNING, "agent sent a line that is not JSON: {0}", line);
                    continue;
                }
                if ("ready".equals(node.path("event").asText())) {
                    ready.countDown();
                } else if (node.has("id")) {
                    CompletableFuture<JsonNode> f = pending.get(node.get("id").asLong());
                    if (f != null) {
                        f.complete(node);
                    }
                }
            }
        } catch (IOException e) {
            end = e;
        } finally {
            closed = true;
            IOException f = end;
            pending.values().forEach(p -> p.completeExceptionally(f));
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing a socket we own; nothing to recover
        }
        try {
            readerThread.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
