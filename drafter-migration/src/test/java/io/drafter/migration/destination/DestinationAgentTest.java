package io.drafter.migration.destination;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.migration.MigrationException;
import io.drafter.migration.internal.Link;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameAdapter;
import io.drafter.migration.protocol.ProtocolException;
import io.drafter.migration.transport.Connection;
import io.drafter.storage.BlockDevice;
import io.drafter.storage.source.MemoryBlockDevice;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The control agent without a socket: events in, frames out (read back through a pipe), futures and the view. */
@Timeout(20)
class DestinationAgentTest {
    static final int BLOCK = 4096;
    static final DeviceSpec DISK = new DeviceSpec("disk", 4L * BLOCK, BLOCK);
    static final DeviceSpec MEMORY = new DeviceSpec("memory", 4L * BLOCK, BLOCK);

    final PipedInputStream sent = new PipedInputStream(1 << 20);
    final FrameAdapter frames = new FrameAdapter(sent, "agent");
    final List<String> discarded = Collections.synchronizedList(new ArrayList<>());
    final List<DeviceSink> sinks = Collections.synchronizedList(new ArrayList<>());
    final List<DestinationPhase> phases = Collections.synchronizedList(new ArrayList<>());
    DestinationAgent agent;

    DestinationAgent start(DestinationOptions options) throws IOException {
        PipedOutputStream out = new PipedOutputStream(sent);
        Connection c = new Connection() {
            @Override
            public InputStream input() {
                return InputStream.nullInputStream();
            }

            @Override
            public OutputStream output() {
                return out;
            }

            @Override
            public String peer() {
                return "test-source";
            }

            @Override
            public boolean authenticatedTransport() {
                return false;
            }

            @Override
            public void close() {
                try {
                    out.close();
                } catch (IOException ignored) {
                    // closed already
                }
            }
        };
        // A stall timeout of 400 ms: a PING goes out after 100 ms of quiet.
        Link link = new Link(c, "source", Duration.ofMillis(400), 1024, _ -> {});
        DestinationStorage storage = new DestinationStorage() {
            @Override
            public Opened open(DeviceSpec spec) {
                return new Opened(new MemoryBlockDevice(spec.name(), spec.sizeBytes(), spec.blockSizeBytes()), true);
            }

            @Override
            public void discard(DeviceSpec spec, BlockDevice device) {
                discarded.add(spec.name());
            }
        };
        for (DeviceSpec spec : List.of(DISK, MEMORY)) {
            sinks.add(new DeviceSink(sinks.size(), spec, storage.open(spec), 8, _ -> {}));
        }
        DestinationListener listener = new DestinationListener() {
            @Override
            public void onPhase(DestinationPhase from, DestinationPhase to, Duration timeInFrom) {
                phases.add(to);
            }
        };
        agent = new DestinationAgent("test-source", link, storage, options, listener, sinks, () -> null);
        agent.start();
        agent.post(new DestinationAgent.HelloDone());
        agent.post(new DestinationAgent.DevicesOpened(false));
        return agent;
    }

    @AfterEach
    void end() throws InterruptedException {
        if (agent != null) {
            agent.abort();
        }
    }

    /** The next frame the agent sent that is not a PING. */
    Frame next() throws IOException {
        while (true) {
            Frame f = frames.read();
            if (!(f instanceof Frame.Ping)) {
                return f;
            }
        }
    }

    boolean takeOver() throws Exception {
        CompletableFuture<Boolean> reply = new CompletableFuture<>();
        agent.post(new DestinationAgent.TakeOver(reply));
        try {
            return reply.get(5, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw (Exception) e.getCause();
        }
    }

    @Test
    void creditReturnedByTheAppliersGoesOutAndAPingWhenQuiet() throws Exception {
        start(DestinationOptions.defaults());
        sinks.get(1).returnCredit(3);
        sinks.get(1).returnCredit(2);
        agent.wake();
        int returned = 0;
        while (returned < 5) {
            Frame.Credit c = assertInstanceOf(Frame.Credit.class, next());
            assertEquals(1, c.device());
            returned += c.frames();
        }
        assertEquals(5, returned);
        assertInstanceOf(Frame.Ping.class, frames.read(), "nothing else to send: a heartbeat");
        assertEquals(DestinationPhase.RECEIVING, agent.view().phase());
    }

    @Test
    void authorityIsAcknowledgedOnlyOnceEveryApplierPassedItsBarrier() throws Exception {
        start(DestinationOptions.defaults().withExplicitTakeover(true));
        CountDownLatch applied = new CountDownLatch(2);
        agent.post(new DestinationAgent.AuthorityArrived(new byte[] {7}, applied));
        // Answered after the agent took AUTHORITY: still RECEIVING, the barrier is not passed.
        IllegalStateException early = assertThrows(IllegalStateException.class, this::takeOver);
        assertTrue(early.getMessage().contains("authority has not arrived (phase RECEIVING)"), early.getMessage());
        applied.countDown();
        agent.wake();
        applied.countDown();
        agent.wake();
        assertInstanceOf(Frame.AuthorityAck.class, next());
        MigrationDestination.Resumable r = agent.resumableFuture.get(5, TimeUnit.SECONDS);
        assertArrayEquals(new byte[] {7}, r.authorityPayload());
        assertEquals(List.of("disk", "memory"), List.copyOf(r.devices().keySet()));
        assertEquals(DestinationPhase.AUTHORITATIVE, agent.view().phase());

        assertTrue(takeOver(), "wait for the GRANT");
        assertTrue(takeOver(), "asked once, still waiting");
        sinks.get(0).returnCredit(1);
        agent.wake();
        assertInstanceOf(Frame.Takeover.class, next());
        assertInstanceOf(Frame.Credit.class, next(), "one TAKEOVER only");
    }

    @Test
    void withoutExplicitTakeoverTheGrantCompletesAndTheAgentEnds() throws Exception {
        start(DestinationOptions.defaults());
        CountDownLatch authority = new CountDownLatch(0);
        agent.post(new DestinationAgent.AuthorityArrived(new byte[0], authority));
        assertInstanceOf(Frame.AuthorityAck.class, next());
        assertInstanceOf(Frame.Takeover.class, next(), "asks on the caller's behalf");
        for (DeviceSink s : sinks) {
            s.waiting.markPresent(0, s.spec.blockCount());
        }
        agent.post(new DestinationAgent.GrantArrived(new CountDownLatch(0)));
        assertInstanceOf(Frame.Completed.class, next());
        agent.resumableFuture.get(5, TimeUnit.SECONDS);
        assertEquals(DestinationPhase.COMPLETED, agent.view().phase());
        assertTrue(agent.ended());
        assertFalse(takeOver(), "granted already: nothing to wait for, answered without the agent");
        assertEquals(
                List.of(
                        DestinationPhase.RECEIVING,
                        DestinationPhase.AUTHORITATIVE,
                        DestinationPhase.GRANTED,
                        DestinationPhase.COMPLETED),
                phases);
    }

    @Test
    void aGrantWithBlocksMissingFailsTheSession() throws Exception {
        start(DestinationOptions.defaults());
        agent.post(new DestinationAgent.AuthorityArrived(new byte[0], new CountDownLatch(0)));
        assertInstanceOf(Frame.AuthorityAck.class, next());
        assertInstanceOf(Frame.Takeover.class, next());
        agent.post(new DestinationAgent.GrantArrived(new CountDownLatch(0)));
        Frame.Error e = assertInstanceOf(Frame.Error.class, next());
        assertEquals(ErrorCode.UNEXPECTED_FRAME, e.code());
        assertTrue(e.message().contains("GRANT arrived while device \"disk\" still misses 4 blocks"), e.message());
        ExecutionException failed =
                assertThrows(ExecutionException.class, () -> agent.grantFuture.get(5, TimeUnit.SECONDS));
        assertInstanceOf(MigrationException.class, failed.getCause());
    }

    @Test
    void aReportedFailureIsHandledOnceAndLaterRequestsAreAnsweredFromTheFinalState() throws Exception {
        start(DestinationOptions.defaults());
        agent.report(new ProtocolException(ErrorCode.MALFORMED_FRAME, "malformed frame: test"));
        assertTrue(agent.ended());
        agent.report(new IOException("a second failure changes nothing"));
        Frame.Error e = assertInstanceOf(Frame.Error.class, next());
        assertEquals(ErrorCode.MALFORMED_FRAME, e.code());
        MigrationException failure = agent.view().failure();
        assertEquals(
                "could not migrate from test-source (phase RECEIVING): malformed frame: test; the source stays"
                        + " authoritative and the partial copy is discarded",
                failure.getMessage());
        agent.abort(); // waits until the failure was handled
        assertEquals(List.of("disk", "memory"), discarded);
        assertEquals(DestinationPhase.FAILED, agent.view().phase());
        MigrationException taken = assertThrows(MigrationException.class, this::takeOver);
        assertSame(failure, taken);
        CompletableFuture<Void> confirmed = new CompletableFuture<>();
        agent.post(new DestinationAgent.Confirm(confirmed));
        ExecutionException notGranted = assertThrows(ExecutionException.class, confirmed::get);
        assertTrue(notGranted.getCause().getMessage().contains("has not granted it (phase FAILED)"));
    }
}
