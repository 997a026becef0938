package io.drafter.migration.protocol;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

/**
 * One message of the migration protocol; the byte layout of each is drawn in the {@linkplain
 * io.drafter.migration.protocol package documentation}.
 *
 * <p>Records holding arrays own them: callers must not change an array after handing it to a frame.
 */
public sealed interface Frame {
    /** The frame's type byte. */
    int type();

    /** S→D: opens the session. */
    record Hello(int version, int flags, byte[] nonce) implements Frame {
        public int type() {
            return FrameCodec.HELLO;
        }
    }

    /** D→S: accepts the HELLO and says which optional features are on. */
    record HelloReply(int version, int flags, byte[] nonce) implements Frame {
        public int type() {
            return FrameCodec.HELLO_REPLY;
        }
    }

    /** Either way: proof of the shared token. */
    record AuthProof(byte[] mac) implements Frame {
        public int type() {
            return FrameCodec.AUTH_PROOF;
        }
    }

    /** S→D: the devices that will migrate, in index order. */
    record DeviceGroup(List<DeviceSpec> devices) implements Frame {
        public DeviceGroup {
            devices = List.copyOf(devices);
        }

        public int type() {
            return FrameCodec.DEVICE_GROUP;
        }
    }

    /** D→S: the group is accepted; each device starts with {@code initialCredit} data frames of credit. */
    record GroupAccepted(int initialCredit) implements Frame {
        public int type() {
            return FrameCodec.GROUP_ACCEPTED;
        }
    }

    /**
     * S→D: the current bytes of one block; {@code data} holds them raw ({@code encoding} 0) or zstd-compressed (1) and
     * decompresses to {@code rawLength} bytes.
     */
    record BlockData(int device, long block, int encoding, int rawLength, ByteBuffer data) implements Frame {
        public static final int RAW = 0;
        public static final int ZSTD = 1;

        public int type() {
            return FrameCodec.BLOCK;
        }
    }

    /** S→D: blocks {@code [firstBlock, firstBlock + count)} are all zero. */
    record ZeroBlocks(int device, long firstBlock, int count) implements Frame {
        public int type() {
            return FrameCodec.ZERO;
        }
    }

    /** S→D: these blocks changed since they were sent; newer copies follow. {@code last} marks the final set. */
    record DirtyBlocks(int device, int round, boolean last, long[] blocks) implements Frame {
        public int type() {
            return FrameCodec.DIRTY;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof DirtyBlocks d
                    && d.device == device
                    && d.round == round
                    && d.last == last
                    && Arrays.equals(d.blocks, blocks);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(blocks) * 31 + device;
        }
    }

    /** D→S: a reader waits for this block. */
    record Need(int device, long block) implements Frame {
        public int type() {
            return FrameCodec.NEED;
        }
    }

    /** D→S: {@code frames} more data frames for {@code device} may be sent. */
    record Credit(int device, int frames) implements Frame {
        public int type() {
            return FrameCodec.CREDIT;
        }
    }

    /**
     * S→D: the final dirty lists are all sent and the source is suspended: prepare to take over. The source still owns
     * the devices until its {@link Grant}; {@code payload} is opaque to the protocol.
     */
    record Authority(byte[] payload) implements Frame {
        public int type() {
            return FrameCodec.AUTHORITY;
        }
    }

    /** D→S: authority received and every final dirty list applied (informational). */
    record AuthorityAck() implements Frame {
        public int type() {
            return FrameCodec.AUTHORITY_ACK;
        }
    }

    /**
     * D→S: the destination's application confirmed that it runs on the devices (it held the grant, so every block is
     * there); the source's copy is no longer needed.
     */
    record Completed() implements Frame {
        public int type() {
            return FrameCodec.COMPLETED;
        }
    }

    /** D→S: authority arrived and the destination is ready to run; it asks for the grant. */
    record Takeover() implements Frame {
        public int type() {
            return FrameCodec.TAKEOVER;
        }
    }

    /**
     * S→D: the destination may run. The source sends it only after every block it still had to send, so a destination
     * holding the grant holds every block.
     */
    record Grant() implements Frame {
        public int type() {
            return FrameCodec.GRANT;
        }
    }

    /** Either way: a keep-alive. */
    record Ping(long clock) implements Frame {
        public int type() {
            return FrameCodec.PING;
        }
    }

    /** Either way: the sender gives up for {@code code}; it closes the connection after this frame. */
    record Error(ErrorCode code, String message) implements Frame {
        public int type() {
            return FrameCodec.ERROR;
        }
    }
}
