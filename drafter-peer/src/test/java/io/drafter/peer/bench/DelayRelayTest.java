package io.drafter.peer.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.base.testing.Await;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link DelayRelay} on loopback: order and content, the delay (a lower bound only), bounded memory, clean close. */
@Timeout(60)
class DelayRelayTest {
    static final Duration DELAY = Duration.ofMillis(30);

    /** Echoes every connection until its end of stream, then closes it; or, if {@code silent}, reads nothing. */
    static final class Target implements AutoCloseable {
        final ServerSocketChannel server;
        final Thread thread;
        volatile SocketChannel last;
        final CompletableFuture<SocketChannel> first = new CompletableFuture<>();

        Target(boolean silent) throws IOException {
            server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
            thread = Thread.ofPlatform().name("relay-test-target").start(() -> {
                try {
                    while (true) {
                        SocketChannel c = server.accept();
                        last = c;
                        first.complete(c);
                        if (silent) {
                            continue;
                        }
                        try (c) {
                            InputStream in = c.socket().getInputStream();
                            OutputStream out = c.socket().getOutputStream();
                            in.transferTo(out);
                        }
                    }
                } catch (IOException e) {
                    // closed
                }
            });
        }

        InetSocketAddress address() throws IOException {
            return (InetSocketAddress) server.getLocalAddress();
        }

        @Override
        public void close() throws Exception {
            server.close();
            if (last != null) {
                last.close();
            }
            thread.join(10_000);
        }
    }

    static DelayRelay relay(Target target, int capacityBytes) throws IOException {
        InetSocketAddress to = target.address();
        return DelayRelay.start(
                "relay-test",
                ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0)),
                () -> SocketChannel.open(to),
                DELAY,
                capacityBytes);
    }

    @Test
    void bytesComeBackInOrderAfterAtLeastTheDelayEachWayAndBothSidesCloseCleanly() throws Exception {
        try (Target target = new Target(false);
                DelayRelay relay = relay(target, 100_000);
                Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.connect(relay.address(), 10_000);
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();

            long t0 = System.nanoTime();
            out.write(42);
            assertEquals(42, in.read());
            long roundTripNs = System.nanoTime() - t0;
            assertTrue(
                    roundTripNs >= 2 * DELAY.toNanos(),
                    "a round trip took " + roundTripNs / 1e6 + " ms, less than twice the delay");

            // More than the relay holds (100 kB) and than one chunk, from a second thread while this one reads.
            byte[] sent = new byte[3 << 20];
            new Random(19).nextBytes(sent);
            CompletableFuture<Void> writing = CompletableFuture.runAsync(() -> {
                try {
                    for (int off = 0; off < sent.length; off += 7777) {
                        out.write(sent, off, Math.min(7777, sent.length - off));
                    }
                    s.shutdownOutput();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            byte[] received = in.readAllBytes(); // until the end of stream: the target's close came through
            writing.get(30, TimeUnit.SECONDS);
            assertArrayEquals(sent, received);
            assertEquals(1 + sent.length, relay.bytesForward());
            assertEquals(1 + sent.length, relay.bytesBack());

            // Both directions ended: the relay closed both sockets and its connection threads end.
            Await.until(
                    Duration.ofSeconds(10), "the relay's connection threads to end", () -> relay.liveThreads() <= 1);
            assertEquals(1, relay.liveThreads(), "only the accepting thread runs on");
            relay.close();
            assertEquals(0, relay.liveThreads());
        }
    }

    @Test
    void aSenderWhoseTargetDoesNotReadIsHeldBackAndCloseEndsEveryThread() throws Exception {
        try (Target target = new Target(true);
                DelayRelay relay = relay(target, 100_000);
                Socket s = new Socket()) {
            s.connect(relay.address(), 10_000);
            AtomicLong written = new AtomicLong();
            Thread writer = Thread.ofPlatform().name("relay-test-writer").start(() -> {
                byte[] block = new byte[64 * 1024];
                try {
                    OutputStream out = s.getOutputStream();
                    for (int i = 0; i < 1024; i++) { // 64 MiB
                        out.write(block);
                        written.addAndGet(block.length);
                    }
                } catch (IOException e) {
                    // the relay closed on us
                }
            });
            Thread.sleep(1000); // time for the writer to push all it can: the relay must hold it back
            // Only socket buffers (a few MiB on loopback) and the relay's 100 kB can hold what was written.
            assertTrue(
                    written.get() < 32 << 20,
                    "wrote " + written.get() + " bytes into a relay whose target reads nothing");
            assertTrue(writer.isAlive());
            relay.close();
            assertEquals(0, relay.liveThreads());
            writer.join(10_000);
            assertTrue(!writer.isAlive(), "the writer was released when the relay closed");
        }
    }

    @Test
    void aTargetThatGoesAwayClosesTheClientsSide() throws Exception {
        try (Target target = new Target(true);
                DelayRelay relay = relay(target, 100_000);
                Socket s = new Socket()) {
            s.connect(relay.address(), 10_000);
            s.setSoTimeout(20_000);
            target.first.get(10, TimeUnit.SECONDS).close();
            try {
                assertEquals(-1, s.getInputStream().read());
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the client's side stayed open after the target closed", e);
            } catch (IOException reset) {
                // also a close
            }
            relay.close();
            assertEquals(0, relay.liveThreads());
        }
    }

    @Test
    void aNegativeDelayIsRefused() throws IOException {
        try (ServerSocketChannel l = ServerSocketChannel.open()) {
            assertThrows(
                    IllegalArgumentException.class,
                    () -> DelayRelay.start("relay-test", l, SocketChannel::open, Duration.ofMillis(-1), 1));
        }
    }
}
