package io.drafter.migration.testing;

import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.ProtocolException;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;

/**
 * A plain-TCP man in the middle on 127.0.0.1 that forwards frames one by one and can drop the connection, stall, or
 * corrupt a frame when a rule matches: the fault injector of the engine tests. It relays one connection: the dialler
 * connects to {@link #address()}, the relay dials the target.
 */
public final class FrameRelay implements AutoCloseable {
    /** Which way a frame travels. */
    public enum Way {
        TO_DESTINATION,
        TO_SOURCE
    }

    /** What to do with a matching frame. */
    public enum Action {
        /** Close both connections without forwarding the frame. */
        DROP,
        /** Forward the frame, then close both connections. */
        FORWARD_THEN_DROP,
        /** Stop forwarding in both directions and keep the connections open. */
        STALL,
        /** Forward the frame, then stop forwarding this direction only. */
        FORWARD_THEN_HOLD,
        /** Forward the frame with a byte changed by {@link Rule#corrupt}. */
        CORRUPT
    }

    /** Fires once, on the {@code nth} frame going {@code way} that matches {@code match}. */
    public record Rule(
            Way way, Predicate<Frame> match, int nth, Action action, java.util.function.Consumer<byte[]> corrupt) {
        public static Rule on(Way way, Predicate<Frame> match, int nth, Action action) {
            return new Rule(way, match, nth, action, null);
        }
    }

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final Rule rule;
    private final boolean diallerIsSource;
    private final AtomicBoolean fired = new AtomicBoolean();
    private final CountDownLatch firedLatch = new CountDownLatch(1);
    private volatile boolean stalled;
    private volatile Socket a;
    private volatile Socket b;
    private int matches;

    /** A relay whose dialler is the source and whose target the destination's listener. */
    public FrameRelay(InetSocketAddress target, Rule rule) throws IOException {
        this(target, rule, true);
    }

    private FrameRelay(InetSocketAddress target, Rule rule, boolean diallerIsSource) throws IOException {
        this.target = target;
        this.rule = rule;
        this.diallerIsSource = diallerIsSource;
        this.server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("test-relay").start(this::run);
    }

    /** A relay in front of a source's listener at {@code source}: the destination dials the relay. */
    public static FrameRelay toSource(InetSocketAddress source, Rule rule) throws IOException {
        return new FrameRelay(source, rule, false);
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
    }

    /** Whether the rule has fired. */
    public boolean fired() {
        return fired.get();
    }

    public void awaitFired() throws InterruptedException {
        firedLatch.await();
    }

    /** Drops both connections now. */
    public void drop() {
        closeQuietly(a);
        closeQuietly(b);
    }

    private void run() {
        try {
            a = server.accept();
            b = new Socket();
            b.connect(target);
            Socket src = diallerIsSource ? a : b;
            Socket dst = diallerIsSource ? b : a;
            Thread.ofPlatform().daemon().name("test-relay-to-dst").start(() -> pump(src, dst, Way.TO_DESTINATION));
            Thread.ofPlatform().daemon().name("test-relay-to-src").start(() -> pump(dst, src, Way.TO_SOURCE));
        } catch (IOException e) {
            drop();
        }
    }

    private void pump(Socket from, Socket to, Way way) {
        boolean held = false;
        try {
            DataInputStream in = new DataInputStream(from.getInputStream());
            OutputStream out = to.getOutputStream();
            while (true) {
                int len = in.readInt();
                byte[] frame = new byte[4 + len];
                ByteBuffer.wrap(frame).putInt(len);
                in.readFully(frame, 4, len);
                while (stalled || held) {
                    Thread.sleep(10);
                }
                Action action = match(way, frame);
                if (action == null) {
                    out.write(frame);
                    continue;
                }
                switch (action) {
                    case DROP -> {
                        drop();
                        return;
                    }
                    case FORWARD_THEN_DROP -> {
                        out.write(frame);
                        out.flush();
                        drop();
                        return;
                    }
                    case STALL -> stalled = true;
                    case FORWARD_THEN_HOLD -> {
                        out.write(frame);
                        held = true;
                    }
                    case CORRUPT -> {
                        rule.corrupt().accept(frame);
                        out.write(frame);
                    }
                }
            }
        } catch (EOFException | java.net.SocketException e) {
            // One side went away: so does the other.
            drop();
        } catch (IOException | InterruptedException e) {
            drop();
        }
    }

    private synchronized Action match(Way way, byte[] frame) {
        if (fired.get() || way != rule.way()) {
            return null;
        }
        Frame f;
        try {
            f = FrameCodec.decode(ByteBuffer.wrap(frame, 4, frame.length - 4));
        } catch (ProtocolException e) {
            return null;
        }
        if (!rule.match().test(f) || ++matches < rule.nth()) {
            return null;
        }
        fired.set(true);
        firedLatch.countDown();
        return rule.action();
    }

    private static void closeQuietly(Socket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    @Override
    public void close() throws IOException {
        drop();
        server.close();
    }
}
