package io.drafter.vm.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.drafter.vm.VmValues;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
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
 * <p>The guest is not trusted: lines over {@value #MAX_LINE_BYTES} bytes are read through and dropped without being
 * held whole, and lines that are not JSON (or too long) are logged cut to {@value #SHOWN_CHARS} characters, at most
 * {@value #LOGS_PER_SECOND} per second, with the number left out; texts from the guest in exceptions are cut the same
 * way.
 *
 * <p>Threading: calls may come from any thread; one named platform thread reads the socket.
 */
public final class AgentClient implements AutoCloseable {
    /** The longest line taken from the guest; its messages are well under 1 KiB. */
    static final int MAX_LINE_BYTES = 64 * 1024;
    /** How much of a guest's text a log line or an exception shows. */
    static final int SHOWN_CHARS = 200;
    /** Log lines about a misbehaving guest per second, at most. */
    static final int LOGS_PER_SECOND = 5;

    private static final System.Logger LOG = System.getLogger(AgentClient.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path socket;
    private final SocketChannel channel;
    private final BoundedLineReader reader;
    private final LogLimiter logLimiter = new LogLimiter(LOGS_PER_SECOND);
    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<Long, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final CountDownLatch ready = new CountDownLatch(1);
    private final Thread readerThread;
    private volatile boolean closed;

    private AgentClient(Path socket, SocketChannel channel) {
        this.socket = socket;
        this.channel = channel;
        this.reader = new BoundedLineReader(channel, MAX_LINE_BYTES, this::lineTooLong);
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
                        "could not complete " + call.name() + ": guest answered without a boolean ok: "
                                + shown(reply.toString()));
            }
            if (!reply.get("ok").asBoolean()) {
                throw new AgentException(
                        AgentException.Kind.GUEST_ERROR,
                        "could not complete " + call.name() + " in the guest: "
                                + shown(reply.path("error").asText("no reason given")));
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
                    warn("agent on " + socket + " sent a line that is not JSON (" + line.length() + " characters): "
                            + VmValues.quote(line, SHOWN_CHARS));
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
            long suppressed = logLimiter.drainSuppressed();
            if (suppressed > 0) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "agent on " + socket + ": " + suppressed
                                + " more lines that were not JSON or too long were not logged");
            }
            closed = true;
            IOException f = end;
            pending.values().forEach(p -> p.completeExceptionally(f));
        }
    }

    /** The largest line buffer the reader held so far, in bytes (never above {@link #MAX_LINE_BYTES}). */
    int peakLineBufferBytes() {
        return reader.peakBufferBytes();
    }

    private void lineTooLong(long bytes) {
        warn("agent on " + socket + " sent a line of " + bytes + " bytes, over the limit of " + MAX_LINE_BYTES
                + ": skipped");
    }

    /** Logs {@code message} unless too many went out this second; the next one that does says how many did not. */
    private void warn(String message) {
        long suppressed = logLimiter.tryAcquire(System.nanoTime());
        if (suppressed >= 0) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    message + (suppressed == 0 ? "" : " (" + suppressed + " similar lines before it not logged)"));
        }
    }

    /** A text from the guest as an exception may show it: cut, escaped, without the quotes. */
    private static String shown(String text) {
        String q = VmValues.quote(text, SHOWN_CHARS);
        return text == null ? q : q.substring(1, q.length() - 1);
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
