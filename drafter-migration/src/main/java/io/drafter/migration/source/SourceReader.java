package io.drafter.migration.source;

import io.drafter.migration.internal.Handshake;
import io.drafter.migration.internal.Link;
import io.drafter.migration.protocol.DeviceSpec;
import io.drafter.migration.protocol.ErrorCode;
import io.drafter.migration.protocol.Frame;
import io.drafter.migration.protocol.FrameAdapter;
import io.drafter.migration.protocol.ProtocolException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.List;

/**
 * The source's reader: reads the destination's frames after the handshake, checks their device and block numbers
 * against the group, and hands them to the agent as {@link SourceEvent}s through the bounded {@link SourceInbox} (a
 * full inbox blocks it: the back-pressure on a destination that floods NEEDs). PINGs only feed the watchdog; an ERROR frame
 * or a malformed one fails the migration from here, ahead of anything queued. It stops after COMPLETED, and once the
 * migration ended it reads and drops what still comes until the connection closes.
 *
 * <p><b>Note:</b> runs on its own platform thread; touches nothing of the agent's but the inbox.
 */
final class SourceReader implements Runnable {
    private final MigrationSource source;
    private final FrameAdapter in;
    private final Link link;
    private final List<DeviceSpec> specs;
    private final SourceInbox inbox;

    SourceReader(MigrationSource source, Link link, List<DeviceSpec> specs, SourceInbox inbox) {
        this.source = source;
        this.in = link.in();
        this.link = link;
        this.specs = specs;
        this.inbox = inbox;
    }

    @Override
    public void run() {
        try {
            while (true) {
                Frame f = in.read();
                switch (f) {
                    case Frame.Need n -> {
                        check(n.device(), n.block());
                        offer(new SourceEvent.Need(n.device(), n.block()));
                    }
                    case Frame.Credit c -> {
                        check(c.device(), 0);
                        offer(new SourceEvent.Credit(c.device(), c.frames()));
                    }
                    case Frame.AuthorityAck _ -> offer(new SourceEvent.AuthorityAck(System.nanoTime()));
                    case Frame.Takeover _ -> offer(new SourceEvent.Takeover());
                    case Frame.Completed _ -> {
                        offer(new SourceEvent.Completed());
                        return;
                    }
                    case Frame.Ping _ -> {}
                    case Frame.Error e -> throw Handshake.peerError(e, source.peer());
                    default ->
                        throw Handshake.unexpected(f, "NEED, CREDIT, AUTHORITY_ACK, TAKEOVER, COMPLETED or PING");
                }
            }
        } catch (IOException | RuntimeException e) {
            source.fail(e);
        } finally {
            link.readerDone();
        }
    }

    private void offer(SourceEvent e) throws InterruptedIOException {
        try {
            // Dropped only once the migration ended: nobody handles it any more.
            inbox.offerFrame(e, source::ended);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("reader interrupted");
        }
    }

    private void check(int device, long block) throws ProtocolException {
        if (device >= specs.size()) {
            throw new ProtocolException(
                    ErrorCode.MALFORMED_FRAME, "malformed frame: device " + device + " of " + specs.size());
        }
        DeviceSpec d = specs.get(device);
        if (block >= d.blockCount()) {
            throw new ProtocolException(
                    ErrorCode.MALFORMED_FRAME,
                    "malformed frame: block " + block + " of device \"" + d.name() + "\" which has " + d.blockCount());
        }
    }
}
