package io.drafter.migration.testing;

import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameCipher;
import io.drafter.migration.protocol.FrameCodec;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.transport.SharedToken;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import javax.crypto.AEADBadTagException;

/**
 * A plain-TCP man in the middle on 127.0.0.1 that forwards frames one by one and can drop the connection, stall,
 * corrupt, drop, replay or reorder a frame when a rule matches: the fault injector of the engine tests. It relays one
 * connection: the dialler connects to {@link #address()}, the relay dials the target.
 *
 * <p>Frames sealed with a shared token (everything after the AUTH_PROOFs) match a rule only if the relay was given the
 * token: it then derives the session's keys from the HELLOs it saw and opens a copy of each frame to match it, as an
 * insider would. What it forwards are always the bytes as they came (changed only by the rule's action), so a frame it
 * corrupts stays corrupt for the receiver. A recording relay keeps every byte it forwarded, per direction.
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
        /** Forward the frame with a byte changed by {@link Rule#corrupt} (length prefix at 0..3 included). */
        CORRUPT,
        /** Leave this one frame out and go on forwarding. */
        SKIP,
        /** Forward the frame twice. */
        REPLAY,
        /** Hold the frame and forward it right after the next frame going the same way. */
        SWAP
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
    private final SharedToken token;
    private final ByteArrayOutputStream[] recorded;
    private final Session session = new Session();
    private final AtomicBoolean fired = new AtomicBoolean();
    private final AtomicInteger ended = new AtomicInteger();
    private final CountDownLatch firedLatch = new CountDownLatch(1);
    private final CountDownLatch dropped = new CountDownLatch(1);
    private volatile boolean stalled;
    private volatile Socket a;
    private volatile Socket b;
    private int matches;

    /** A relay whose dialler is the source and whose target the destination's listener. */
    public FrameRelay(InetSocketAddress target, Rule rule) throws IOException {
        this(target, rule, true, null, false);
    }

    /** As {@link #FrameRelay(InetSocketAddress, Rule)}, knowing the session's {@code token}: sealed frames match too. */
    public FrameRelay(InetSocketAddress target, Rule rule, SharedToken token) throws IOException {
        this(target, rule, true, token, false);
    }

    private FrameRelay(InetSocketAddress target, Rule rule, boolean diallerIsSource, SharedToken token, boolean record)
            throws IOException {
        this.target = target;
        this.rule = rule;
        this.diallerIsSource = diallerIsSource;
        this.token = token;
        this.recorded =
                record ? new ByteArrayOutputStream[] {new ByteArrayOutputStream(), new ByteArrayOutputStream()} : null;
        this.server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("test-relay").start(this::run);
    }

    /** A relay in front of a source's listener at {@code source}: the destination dials the relay. */
    public static FrameRelay toSource(InetSocketAddress source, Rule rule) throws IOException {
        return new FrameRelay(source, rule, false, null, false);
    }

    /** As {@link #toSource(InetSocketAddress, Rule)}, knowing the session's {@code token}: sealed frames match too. */
    public static FrameRelay toSource(InetSocketAddress source, Rule rule, SharedToken token) throws IOException {
        return new FrameRelay(source, rule, false, token, false);
    }

    /**
     * A relay whose dialler is the source that forwards everything untouched and keeps every byte it forwarded ({@link
     * #recorded}); an outsider: it knows no token.
     */
    public static FrameRelay recording(InetSocketAddress target) throws IOException {
        return new FrameRelay(target, Rule.on(Way.TO_DESTINATION, f -> false, 1, Action.DROP), true, null, true);
    }

    /** As {@link #recording}, in front of a source's listener at {@code source}: the destination dials the relay. */
    public static FrameRelay recordingToSource(InetSocketAddress source) throws IOException {
        return new FrameRelay(source, Rule.on(Way.TO_DESTINATION, f -> false, 1, Action.DROP), false, null, true);
    }

    /** The bytes forwarded {@code way} so far (a recording relay only). */
    public byte[] recorded(Way way) {
        ByteArrayOutputStream r = recorded[way.ordinal()];
        synchronized (r) {
            return r.toByteArray();
        }
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
        dropped.countDown();
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

    /**
     * Forwards frames {@code from} → {@code to} as the rule says. When {@code from} ends (or resets), the end is passed
     * on after every frame before it (half-close), so that a peer's last ERROR frame still arrives; when {@code to} is
     * gone, frames are read and dropped so that the sender never blocks. Both sockets close when both ways ended.
     */
    private void pump(Socket from, Socket to, Way way) {
        boolean held = false;
        byte[] swapped = null;
        try {
            DataInputStream in = new DataInputStream(from.getInputStream());
            Forward out = new Forward(to.getOutputStream(), way);
            while (true) {
                byte[] frame;
                try {
                    int len = in.readInt();
                    if (len < 0 || len > FrameCodec.MAX_FRAME_BYTES + FrameCipher.TAG_BYTES) {
                        drop(); // not frames: nothing sensible to pass on
                        return;
                    }
                    frame = new byte[4 + len];
                    ByteBuffer.wrap(frame).putInt(len);
                    in.readFully(frame, 4, len);
                } catch (EOFException | java.net.SocketException e) {
                    halfClose(to);
                    return;
                }
                if (stalled || held) {
                    dropped.await(); // held until the relay is dropped or closed: nothing more goes this way
                    return;
                }
                Action action = match(way, session.observe(way, frame));
                if (action == null) {
                    out.write(frame);
                    if (swapped != null) {
                        out.write(swapped);
                        swapped = null;
                    }
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
                    case SKIP -> {}
                    case REPLAY -> {
                        out.write(frame);
                        out.write(frame);
                    }
                    case SWAP -> swapped = frame;
                }
            }
        } catch (IOException | InterruptedException e) {
            drop();
        } finally {
            if (ended.incrementAndGet() == 2) {
                drop();
            }
        }
    }

    /** One way's output: writes (and records) frames until the receiver is gone, then drops them. */
    private final class Forward {
        private final OutputStream out;
        private final Way way;
        private boolean gone;

        Forward(OutputStream out, Way way) {
            this.out = out;
            this.way = way;
        }

        void write(byte[] frame) {
            if (gone) {
                return;
            }
            try {
                out.write(frame);
            } catch (IOException e) {
                gone = true;
                return;
            }
            if (recorded != null) {
                ByteArrayOutputStream r = recorded[way.ordinal()];
                synchronized (r) {
                    r.write(frame, 0, frame.length);
                }
            }
        }

        void flush() {
            try {
                out.flush();
            } catch (IOException e) {
                gone = true;
            }
        }
    }

    private static void halfClose(Socket s) {
        try {
            s.shutdownOutput();
        } catch (IOException ignored) {
            // gone already
        }
    }

    private synchronized Action match(Way way, Frame f) {
        if (f == null || fired.get() || way != rule.way()) {
            return null;
        }
        if (!rule.match().test(f) || ++matches < rule.nth()) {
            return null;
        }
        fired.set(true);
        firedLatch.countDown();
        return rule.action();
    }

    /**
     * What the relay knows of the session: the HELLOs, whether frames are sealed each way, and (with the token) the
     * openers that follow each direction's counter.
     */
    private final class Session {
        private volatile Frame.Hello hello;
        private volatile Way helloWay;
        private volatile Frame.HelloReply reply;
        private final boolean[] sealed = new boolean[2];
        private final FrameCipher[] openers = new FrameCipher[2];

        /** The frame as its receiver will read it, or {@code null} if the relay cannot read it. */
        Frame observe(Way way, byte[] frame) {
            int w = way.ordinal();
            if (!sealed[w]) {
                Frame f;
                try {
                    f = FrameCodec.decode(ByteBuffer.wrap(frame, 4, frame.length - 4));
                } catch (ProtocolException e) {
                    return null;
                }
                switch (f) {
                    case Frame.Hello h -> {
                        helloWay = way;
                        hello = h;
                    }
                    case Frame.HelloReply r -> reply = r;
                    case Frame.AuthProof _ -> {
                        // The token's sessions seal every frame after each side's own proof (the relay is plain TCP).
                        sealed[w] = hello != null && (hello.flags() & FrameCodec.FLAG_TOKEN) != 0;
                    }
                    default -> {}
                }
                return f;
            }
            FrameCipher opener = opener(way);
            if (opener == null) {
                return null;
            }
            byte[] plain = new byte[frame.length - 4 - FrameCipher.TAG_BYTES];
            try {
                opener.open(Arrays.copyOf(frame, 4), frame, 4, frame.length - 4, plain, 0);
                return FrameCodec.decode(ByteBuffer.wrap(plain));
            } catch (AEADBadTagException | ProtocolException | RuntimeException e) {
                return null;
            }
        }

        private FrameCipher opener(Way way) {
            int w = way.ordinal();
            if (openers[w] == null && token != null && hello != null && reply != null) {
                SharedToken.SessionKeys keys =
                        token.sessionKeys(hello.nonce(), reply.nonce(), FrameCodec.handshakeTranscript(hello, reply));
                // The real source sends the HELLO, whichever side the relay calls the source.
                boolean fromSource = way == helloWay;
                openers[w] = FrameCipher.opening(fromSource ? keys.sourceToDestination() : keys.destinationToSource());
            }
            return openers[w];
        }
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
