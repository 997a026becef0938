package io.drafter.vm.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/**
 * A QMP client: JSON over a Unix domain socket, one command in flight per caller, events kept in
 * arrival order.
 *
 * <p>Threading: {@link #execute} may be called from any thread; responses are matched by {@code id}.
 * One named platform thread reads the socket. {@link #close()} is idempotent and fails pending calls.
 */
public final class QmpClient implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(QmpClient.class.getName());
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path socket;
    private final SocketChannel channel;
    private final BufferedReader reader;
    private final Thread readerThread;
    private final AtomicLong nextId = new AtomicLong(1);
    private final Map<String, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
    private final List<QmpEvent> events = new ArrayList<>();
    private volatile boolean closed;
    private volatile IOException failure;

    private QmpClient(Path socket, SocketChannel channel) {
        this.socket = socket;
        this.channel = channel;
        this.reader =
                new BufferedReader(new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.UTF_8));
        this.readerThread = Thread.ofPlatform()
                .name("qmp-reader-" + socket.getFileName())
                .daemon()
                .unstarted(this::readLoop);
    }

    /**
     * Connects to the QMP socket at {@code socket}, retrying until it accepts or {@code timeout} passes
     * or {@code alive} turns false (the QEMU process exited), then negotiates capabilities (waiting for the answer
     * until the same deadline, at least 5 s: a QEMU whose files arrive slowly, e.g. a migration's destination reading
     * its kernel through a mount over a long link, may be slow to answer).
     */
    public static QmpClient connect(Path socket, Duration timeout, BooleanSupplier alive) throws QmpException {
        long deadlineNs = System.nanoTime() + timeout.toNanos();
        SocketChannel ch = null;
        IOException last = null;
        while (ch == null) {
            if (!alive.getAsBoolean()) {
                throw new QmpException("could not connect to QMP socket " + socket + ": QEMU exited");
            }
            try {
                SocketChannel attempt = SocketChannel.open(StandardProtocolFamily.UNIX);
                try {
                    attempt.connect(UnixDomainSocketAddress.of(socket));
                    ch = attempt;
                } catch (IOException e) {
                    attempt.close();
                    throw e;
                }
            } catch (IOException e) {
                last = e;
                if (System.nanoTime() > deadlineNs) {
                    throw new QmpException(
                            "could not connect to QMP socket " + socket + " within " + timeout + ": " + e.getMessage(),
                            e);
                }
                sleepQuietly(5);
            }
        }
        QmpClient client = new QmpClient(socket, ch);
        try {
            String greeting = client.reader.readLine();
            if (greeting == null || !JSON.readTree(greeting).has("QMP")) {
                throw new QmpException("could not start QMP session on " + socket + ": no greeting, got " + greeting);
            }
        } catch (IOException e) {
            client.close();
            throw new QmpException("could not read QMP greeting on " + socket + ": " + e.getMessage(), e);
        }
        client.readerThread.start();
        try {
            client.execute(
                    new QmpCommand.Capabilities(),
                    Duration.ofNanos(Math.max(Duration.ofSeconds(5).toNanos(), deadlineNs - System.nanoTime())));
        } catch (QmpException e) {
            client.close();
            throw e;
        }
        if (last != null) {
            LOG.log(System.Logger.Level.DEBUG, "QMP connected to {0} after retries", socket);
        }
        return client;
    }

    /**
     * Sends {@code command} and waits up to {@code timeout} for its {@code return} value.
     *
     * @throws QmpException naming the command when QEMU answered with an error, the socket broke, or the
     *     timeout passed
     */
    public JsonNode execute(QmpCommand command, Duration timeout) throws QmpException {
        return submit(command).await(timeout);
    }

    /**
     * Sends {@code command} without waiting for its answer: commands sent one after another go out back to back, and
     * QEMU runs them in that order, each as soon as the one before ended, with no round trip in between. {@link
     * Reply#await} then takes each answer.
     *
     * @throws QmpException naming the command when the client is closed or the socket broke
     */
    public Reply submit(QmpCommand command) throws QmpException {
        String id = Long.toString(nextId.getAndIncrement());
        ObjectNode msg = JSON.createObjectNode().put("execute", command.name()).put("id", id);
        ObjectNode args = command.arguments();
        if (args != null) {
            msg.set("arguments", args);
        }
        Reply reply = new Reply(command, id);
        pending.put(id, reply.answer);
        try {
            if (closed) {
                throw new QmpException("could not send QMP " + command.name() + ": client closed"
                        + (failure == null ? "" : " (" + failure.getMessage() + ")"));
            }
            byte[] bytes = (JSON.writeValueAsString(msg) + "\n").getBytes(StandardCharsets.UTF_8);
            synchronized (channel) {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                while (buf.hasRemaining()) {
                    channel.write(buf);
                }
            }
            return reply;
        } catch (QmpException e) {
            pending.remove(id);
            throw e;
        } catch (IOException e) {
            pending.remove(id);
            // The socket broke (QEMU gone, or the channel closed by an interrupt): closed from now on, as when the
            // reading thread sees it, which may come later.
            if (failure == null) {
                failure = new IOException("QMP socket " + socket + " failed: " + e.getMessage(), e);
            }
            closed = true;
            throw new QmpException("could not send QMP " + command.name() + " on " + socket + ": " + e.getMessage(), e);
        }
    }

    /** The answer to a command {@link #submit}ted: taken once, by {@link #await}. */
    public final class Reply {
        private final QmpCommand command;
        private final String id;
        private final CompletableFuture<JsonNode> answer = new CompletableFuture<>();

        private Reply(QmpCommand command, String id) {
            this.command = command;
            this.id = id;
        }

        /**
         * Waits up to {@code timeout} for the command's {@code return} value.
         *
         * @throws QmpException naming the command when QEMU answered with an error, the socket broke, or the
         *     timeout passed
         */
        public JsonNode await(Duration timeout) throws QmpException {
            try {
                JsonNode reply = answer.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
                JsonNode error = reply.get("error");
                if (error != null) {
                    throw new QmpException("could not run QMP " + command.name() + ": "
                            + error.path("class").asText() + ": "
                            + error.path("desc").asText());
                }
                return reply.path("return");
            } catch (TimeoutException e) {
                throw new QmpException("could not run QMP " + command.name() + ": no answer within " + timeout);
            } catch (ExecutionException e) {
                throw new QmpException(
                        "could not run QMP " + command.name() + ": "
                                + e.getCause().getMessage(),
                        e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new QmpException("could not run QMP " + command.name() + ": interrupted");
            } finally {
                pending.remove(id);
            }
        }
    }

    /**
     * Waits up to {@code timeout} for the first event (received since connecting, not yet consumed)
     * that matches {@code filter}, removes it from the buffer and returns it.
     */
    public QmpEvent awaitEvent(Predicate<QmpEvent> filter, Duration timeout) throws QmpException {
        long deadlineNs = System.nanoTime() + timeout.toNanos();
        synchronized (events) {
            while (true) {
                for (var it = events.iterator(); it.hasNext(); ) {
                    QmpEvent e = it.next();
                    if (filter.test(e)) {
                        it.remove();
                        return e;
                    }
                }
                long leftNs = deadlineNs - System.nanoTime();
                if (leftNs <= 0) {
                    throw new QmpException("could not see the awaited QMP event within " + timeout);
                }
                if (closed) {
                    throw new QmpException("could not see the awaited QMP event: connection closed");
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(events, Math.min(leftNs, 50_000_000L));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new QmpException("could not wait for a QMP event: interrupted");
                }
            }
        }
    }

    /** Drops the events received and not yet consumed that match {@code filter}; returns how many. */
    public int discardEvents(Predicate<QmpEvent> filter) {
        synchronized (events) {
            int before = events.size();
            events.removeIf(filter);
            return before - events.size();
        }
    }

    /** Returns a copy of the events received and not yet consumed, in arrival order. */
    public List<QmpEvent> events() {
        synchronized (events) {
            return List.copyOf(events);
        }
    }

    private void readLoop() {
        try {
            String line;
            while ((line = reader.readLine()) != null) {
                JsonNode node = JSON.readTree(line);
                if (node.has("event")) {
                    JsonNode ts = node.path("timestamp");
                    QmpEvent ev = new QmpEvent(
                            node.get("event").asText(),
                            node.has("data") ? node.get("data") : JSON.createObjectNode(),
                            ts.path("seconds").asLong() * 1_000_000L
                                    + ts.path("microseconds").asLong());
                    synchronized (events) {
                        events.add(ev);
                        events.notifyAll();
                    }
                } else if (node.has("id")) {
                    CompletableFuture<JsonNode> f = pending.get(node.get("id").asText());
                    if (f != null) {
                        f.complete(node);
                    }
                }
            }
            failure = new IOException("QMP socket " + socket + " closed by QEMU");
        } catch (IOException | UncheckedIOException e) {
            if (!closed) {
                failure = new IOException("QMP socket " + socket + " failed: " + e.getMessage(), e);
            }
        } finally {
            closed = true;
            IOException f = failure != null ? failure : new IOException("QMP client closed");
            pending.values().forEach(p -> p.completeExceptionally(f));
            synchronized (events) {
                events.notifyAll();
            }
        }
    }

    /** Whether the connection is still open. */
    public boolean isOpen() {
        return !closed;
    }

    @Override
    public void close() {
        closed = true;
        try {
            channel.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing QMP socket {0}: {1}", socket, e.getMessage());
        }
        pending.values().forEach(p -> p.completeExceptionally(new IOException("QMP client closed")));
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
