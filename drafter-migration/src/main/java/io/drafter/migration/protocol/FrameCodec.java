package io.drafter.migration.protocol;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * Encodes frames to bytes and decodes bytes to frames, checking every field (layouts: {@linkplain
 * io.drafter.migration.protocol package documentation}).
 *
 * <p><b>Note:</b> stateless and thread-safe.
 */
public final class FrameCodec {
    private static final HexFormat HEX = HexFormat.of();
    public static final int MAGIC = 0x44524654; // "DRFT"
    public static final int VERSION = 3;
    public static final int NONCE_BYTES = 32;
    public static final int MAC_BYTES = 32;
    public static final int MAX_BLOCK_BYTES = 4 << 20;
    public static final int MIN_BLOCK_BYTES = 512;
    public static final int MAX_FRAME_BYTES = MAX_BLOCK_BYTES + 64;
    public static final int MAX_DEVICES = 256;
    public static final int MAX_NAME_BYTES = 255;
    public static final long MAX_DEVICE_BYTES = 1L << 50;
    public static final int MAX_AUTHORITY_PAYLOAD = 64 << 10;
    public static final int MAX_ERROR_MESSAGE_BYTES = 1024;
    public static final int MAX_CREDIT = 1 << 20;
    /**
     * The longest frame accepted from a peer that is not yet authenticated: HELLO, HELLO_REPLY, AUTH_PROOF and an ERROR
     * with its 1 KiB message all fit, and nobody unauthenticated makes this side allocate more.
     */
    public static final int UNAUTHENTICATED_FRAME_BYTES = 2048;
    /** The most blocks one DIRTY frame can list; longer lists are split over several frames. */
    public static final int MAX_DIRTY_PER_FRAME = (MAX_FRAME_BYTES - 1 - 11) / 8;

    public static final int FLAG_ZSTD = 1;
    public static final int FLAG_TOKEN = 2;
    /**
     * HELLO: the source serves a copy that it never runs (a registry), so the destination may run from AUTHORITY on,
     * before the GRANT; the GRANT still follows every block.
     */
    public static final int FLAG_SERVE_ONLY = 4;
    /**
     * HELLO_REPLY: the destination keeps a copy and never runs it (a live backup), so the source resumes its writers
     * once the GRANT is written and stays the owner; COMPLETED then means the copy is durable.
     */
    public static final int FLAG_COPY_ONLY = 8;

    public static final int KNOWN_FLAGS = FLAG_ZSTD | FLAG_TOKEN | FLAG_SERVE_ONLY | FLAG_COPY_ONLY;

    public static final int HELLO = 0x01;
    public static final int HELLO_REPLY = 0x02;
    public static final int AUTH_PROOF = 0x03;
    public static final int DEVICE_GROUP = 0x04;
    public static final int GROUP_ACCEPTED = 0x05;
    public static final int BLOCK = 0x10;
    public static final int ZERO = 0x11;
    public static final int DIRTY = 0x12;
    public static final int NEED = 0x13;
    public static final int CREDIT = 0x14;
    public static final int AUTHORITY = 0x20;
    public static final int AUTHORITY_ACK = 0x21;
    public static final int COMPLETED = 0x22;
    public static final int TAKEOVER = 0x23;
    public static final int GRANT = 0x24;
    public static final int PING = 0x30;
    public static final int ERROR = 0x7F;

    /** Bytes of a BLOCK frame before its data, length prefix included. */
    public static final int BLOCK_HEADER_BYTES = 4 + 1 + 2 + 8 + 1 + 4;

    private FrameCodec() {}

    /**
     * Encodes {@code frame} with its length prefix, ready to send; the buffer is flipped. BLOCK data is copied in: the
     * stream writer avoids that copy with {@link #encodeBlockHeader}.
     */
    public static ByteBuffer encode(Frame frame) {
        int payload = payloadBytes(frame);
        ByteBuffer b = ByteBuffer.allocate(4 + 1 + payload);
        b.putInt(1 + payload).put((byte) frame.type());
        switch (frame) {
            case Frame.Hello h -> putHello(b, h.version(), h.flags(), h.nonce());
            case Frame.HelloReply h -> putHello(b, h.version(), h.flags(), h.nonce());
            case Frame.AuthProof a -> b.put(a.mac());
            case Frame.DeviceGroup g -> {
                b.putShort((short) g.devices().size());
                for (DeviceSpec d : g.devices()) {
                    byte[] name = d.name().getBytes(StandardCharsets.UTF_8);
                    b.putShort((short) name.length)
                            .put(name)
                            .putLong(d.sizeBytes())
                            .putInt(d.blockSizeBytes());
                }
            }
            case Frame.GroupAccepted g -> b.putInt(g.initialCredit());
            case Frame.BlockData d -> {
                putBlockFields(b, d);
                b.put(d.data().duplicate());
            }
            case Frame.ZeroBlocks z ->
                b.putShort((short) z.device()).putLong(z.firstBlock()).putInt(z.count());
            case Frame.DirtyBlocks d -> {
                b.putShort((short) d.device()).putInt(d.round()).put((byte) (d.last() ? 1 : 0));
                b.putInt(d.blocks().length);
                for (long block : d.blocks()) {
                    b.putLong(block);
                }
            }
            case Frame.Need n -> b.putShort((short) n.device()).putLong(n.block());
            case Frame.Credit c -> b.putShort((short) c.device()).putInt(c.frames());
            case Frame.Authority a -> b.putInt(a.payload().length).put(a.payload());
            case Frame.AuthorityAck _, Frame.Completed _, Frame.Takeover _, Frame.Grant _ -> {}
            case Frame.Ping p -> b.putLong(p.clock());
            case Frame.Error e -> {
                byte[] msg = truncatedUtf8(e.message());
                b.putShort((short) e.code().wire()).putShort((short) msg.length).put(msg);
            }
        }
        if (b.position() != b.capacity()) {
            throw new IllegalStateException("encoded " + b.position() + " bytes, expected " + b.capacity());
        }
        return b.flip();
    }

    /**
     * The HELLO and HELLO_REPLY frames as sent, length prefixes included: what the session keys of a sealed session are
     * bound to.
     */
    public static byte[] handshakeTranscript(Frame.Hello hello, Frame.HelloReply reply) {
        ByteBuffer h = encode(hello);
        ByteBuffer r = encode(reply);
        return ByteBuffer.allocate(h.remaining() + r.remaining()).put(h).put(r).array();
    }

    /** The length prefix, type and fields of a BLOCK frame, without its data: {@link #BLOCK_HEADER_BYTES} bytes. */
    public static ByteBuffer encodeBlockHeader(Frame.BlockData d, ByteBuffer into) {
        into.clear();
        into.putInt(1 + 15 + d.data().remaining()).put((byte) BLOCK);
        putBlockFields(into, d);
        return into.flip();
    }

    private static void putBlockFields(ByteBuffer b, Frame.BlockData d) {
        b.putShort((short) d.device())
                .putLong(d.block())
                .put((byte) d.encoding())
                .putInt(d.rawLength());
    }

    private static void putHello(ByteBuffer b, int version, int flags, byte[] nonce) {
        b.putInt(MAGIC).putShort((short) version).putShort((short) flags).put(nonce);
    }

    private static int payloadBytes(Frame frame) {
        return switch (frame) {
            case Frame.Hello _, Frame.HelloReply _ -> 8 + NONCE_BYTES;
            case Frame.AuthProof a -> a.mac().length;
            case Frame.DeviceGroup g -> {
                int n = 2;
                for (DeviceSpec d : g.devices()) {
                    n += 2 + d.name().getBytes(StandardCharsets.UTF_8).length + 8 + 4;
                }
                yield n;
            }
            case Frame.GroupAccepted _ -> 4;
            case Frame.BlockData d -> 15 + d.data().remaining();
            case Frame.ZeroBlocks _ -> 14;
            case Frame.DirtyBlocks d -> 11 + 8 * d.blocks().length;
            case Frame.Need _ -> 10;
            case Frame.Credit _ -> 6;
            case Frame.Authority a -> 4 + a.payload().length;
            case Frame.AuthorityAck _, Frame.Completed _, Frame.Takeover _, Frame.Grant _ -> 0;
            case Frame.Ping _ -> 8;
            case Frame.Error e -> 4 + truncatedUtf8(e.message()).length;
        };
    }

    private static byte[] truncatedUtf8(String s) {
        byte[] b = (s == null ? "" : s).getBytes(StandardCharsets.UTF_8);
        if (b.length <= MAX_ERROR_MESSAGE_BYTES) {
            return b;
        }
        // Cut at a character boundary so the peer's strict decoder accepts it.
        int end = MAX_ERROR_MESSAGE_BYTES;
        while (end > 0 && (b[end] & 0xC0) == 0x80) {
            end--;
        }
        return java.util.Arrays.copyOf(b, end);
    }

    /**
     * Decodes one frame from {@code body} (type byte and payload, without the length prefix). BLOCK data is a slice of
     * {@code body}, not a copy.
     *
     * @throws ProtocolException with {@link ErrorCode#MALFORMED_FRAME} (or {@link ErrorCode#BAD_MAGIC}) for anything
     *     that breaks the layout or a bound; no other exception leaves this method
     */
    public static Frame decode(ByteBuffer body) throws ProtocolException {
        try {
            return decodeChecked(body.slice());
        } catch (BufferUnderflowException e) {
            throw malformed("frame ends early");
        } catch (RuntimeException e) {
            // Every field is checked below; this is the net that keeps the promise of the method comment.
            throw malformed("undecodable frame (" + e + ")");
        }
    }

    private static Frame decodeChecked(ByteBuffer b) throws ProtocolException {
        if (!b.hasRemaining()) {
            throw malformed("empty frame");
        }
        int type = b.get() & 0xFF;
        Frame f = switch (type) {
            case HELLO, HELLO_REPLY -> {
                need(b, 8 + NONCE_BYTES, "HELLO");
                int magic = b.getInt();
                if (magic != MAGIC) {
                    throw new ProtocolException(
                            ErrorCode.BAD_MAGIC,
                            "not a Drafter migration peer (magic 0x" + Integer.toHexString(magic) + ")");
                }
                int version = b.getShort() & 0xFFFF;
                int flags = b.getShort() & 0xFFFF;
                byte[] nonce = new byte[NONCE_BYTES];
                b.get(nonce);
                yield type == HELLO
                        ? new Frame.Hello(version, flags, nonce)
                        : new Frame.HelloReply(version, flags, nonce);
            }
            case AUTH_PROOF -> {
                need(b, MAC_BYTES, "AUTH_PROOF");
                byte[] mac = new byte[MAC_BYTES];
                b.get(mac);
                yield new Frame.AuthProof(mac);
            }
            case DEVICE_GROUP -> decodeGroup(b);
            case GROUP_ACCEPTED -> {
                need(b, 4, "GROUP_ACCEPTED");
                int credit = b.getInt();
                if (credit < 1 || credit > MAX_CREDIT) {
                    throw malformed(
                            "GROUP_ACCEPTED credit " + Integer.toUnsignedString(credit) + " outside 1.." + MAX_CREDIT);
                }
                yield new Frame.GroupAccepted(credit);
            }
            case BLOCK -> {
                need(b, 15, "BLOCK");
                int device = b.getShort() & 0xFFFF;
                long block = nonNegative(b.getLong(), "BLOCK block");
                int encoding = b.get() & 0xFF;
                int raw = b.getInt();
                if (raw < 1 || raw > MAX_BLOCK_BYTES) {
                    throw malformed(
                            "BLOCK raw length " + Integer.toUnsignedString(raw) + " outside 1.." + MAX_BLOCK_BYTES);
                }
                int data = b.remaining();
                switch (encoding) {
                    case Frame.BlockData.RAW -> {
                        if (data != raw) {
                            throw malformed("BLOCK raw data holds " + data + " bytes, header says " + raw);
                        }
                    }
                    case Frame.BlockData.ZSTD -> {
                        if (data < 1) {
                            throw malformed("BLOCK compressed data is empty");
                        }
                    }
                    default -> throw malformed("BLOCK encoding " + encoding + " unknown");
                }
                ByteBuffer slice = b.slice();
                b.position(b.limit());
                yield new Frame.BlockData(device, block, encoding, raw, slice);
            }
            case ZERO -> {
                need(b, 14, "ZERO");
                int device = b.getShort() & 0xFFFF;
                long first = nonNegative(b.getLong(), "ZERO first block");
                int count = b.getInt();
                if (count < 1) {
                    throw malformed(
                            "ZERO count " + Integer.toUnsignedString(count) + " must be 1.." + Integer.MAX_VALUE);
                }
                yield new Frame.ZeroBlocks(device, first, count);
            }
            case DIRTY -> {
                need(b, 11, "DIRTY");
                int device = b.getShort() & 0xFFFF;
                int round = b.getInt();
                int last = b.get() & 0xFF;
                if (last > 1) {
                    throw malformed("DIRTY final flag " + last + " must be 0 or 1");
                }
                int count = b.getInt();
                if (count < 0 || (long) count * 8 != b.remaining()) {
                    throw malformed("DIRTY count " + Integer.toUnsignedString(count) + " does not match its "
                            + b.remaining() + " bytes of blocks");
                }
                long[] blocks = new long[count];
                for (int i = 0; i < count; i++) {
                    blocks[i] = nonNegative(b.getLong(), "DIRTY block");
                }
                yield new Frame.DirtyBlocks(device, round, last == 1, blocks);
            }
            case NEED -> {
                need(b, 10, "NEED");
                int device = b.getShort() & 0xFFFF;
                yield new Frame.Need(device, nonNegative(b.getLong(), "NEED block"));
            }
            case CREDIT -> {
                need(b, 6, "CREDIT");
                int device = b.getShort() & 0xFFFF;
                int frames = b.getInt();
                if (frames < 1 || frames > MAX_CREDIT) {
                    throw malformed("CREDIT " + Integer.toUnsignedString(frames) + " outside 1.." + MAX_CREDIT);
                }
                yield new Frame.Credit(device, frames);
            }
            case AUTHORITY -> {
                need(b, 4, "AUTHORITY");
                int len = b.getInt();
                if (len < 0 || len > MAX_AUTHORITY_PAYLOAD || len != b.remaining()) {
                    throw malformed("AUTHORITY payload length " + Integer.toUnsignedString(len)
                            + " does not match its " + b.remaining() + " bytes (limit " + MAX_AUTHORITY_PAYLOAD
                            + ")");
                }
                byte[] payload = new byte[len];
                b.get(payload);
                yield new Frame.Authority(payload);
            }
            case AUTHORITY_ACK -> new Frame.AuthorityAck();
            case COMPLETED -> new Frame.Completed();
            case TAKEOVER -> new Frame.Takeover();
            case GRANT -> new Frame.Grant();
            case PING -> {
                need(b, 8, "PING");
                yield new Frame.Ping(b.getLong());
            }
            case ERROR -> {
                need(b, 4, "ERROR");
                int code = b.getShort() & 0xFFFF;
                int len = b.getShort() & 0xFFFF;
                if (len > MAX_ERROR_MESSAGE_BYTES || len != b.remaining()) {
                    throw malformed("ERROR message length " + len + " does not match its " + b.remaining()
                            + " bytes (limit " + MAX_ERROR_MESSAGE_BYTES + ")");
                }
                yield new Frame.Error(ErrorCode.fromWire(code), utf8(b, len, "ERROR message"));
            }
            default -> throw malformed("unknown frame type 0x" + Integer.toHexString(type));
        };
        if (b.hasRemaining()) {
            throw malformed("frame type 0x" + Integer.toHexString(type) + " has " + b.remaining() + " extra bytes");
        }
        return f;
    }

    private static Frame.DeviceGroup decodeGroup(ByteBuffer b) throws ProtocolException {
        need(b, 2, "DEVICE_GROUP");
        int count = b.getShort() & 0xFFFF;
        if (count < 1 || count > MAX_DEVICES) {
            throw malformed("DEVICE_GROUP count " + count + " outside 1.." + MAX_DEVICES);
        }
        List<DeviceSpec> devices = new ArrayList<>(count);
        Set<String> names = new HashSet<>();
        for (int i = 0; i < count; i++) {
            need(b, 2, "DEVICE_GROUP name length");
            int nameLen = b.getShort() & 0xFFFF;
            if (nameLen < 1 || nameLen > MAX_NAME_BYTES) {
                throw malformed(
                        "DEVICE_GROUP device " + i + " name length " + nameLen + " outside 1.." + MAX_NAME_BYTES);
            }
            need(b, nameLen + 12, "DEVICE_GROUP device");
            String name = utf8(b, nameLen, "DEVICE_GROUP device name");
            long size = b.getLong();
            int blockSize = b.getInt();
            DeviceSpec spec = new DeviceSpec(name, size, blockSize);
            String problem = validate(spec);
            if (problem != null) {
                throw malformed("DEVICE_GROUP " + problem);
            }
            if (!names.add(name)) {
                throw malformed("DEVICE_GROUP names device " + quote(name) + " twice");
            }
            devices.add(spec);
        }
        return new Frame.DeviceGroup(devices);
    }

    /** Why {@code spec} cannot migrate, or {@code null} if it can. */
    public static String validate(DeviceSpec spec) {
        String n = "device " + quote(spec.name());
        if (spec.name().isEmpty() || spec.name().getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
            return n + ": name must be 1.." + MAX_NAME_BYTES + " bytes";
        }
        if (spec.sizeBytes() < 0 || spec.sizeBytes() > MAX_DEVICE_BYTES) {
            return n + ": size " + spec.sizeBytes() + " outside 0.." + MAX_DEVICE_BYTES;
        }
        int bs = spec.blockSizeBytes();
        if (bs < MIN_BLOCK_BYTES || bs > MAX_BLOCK_BYTES || Integer.bitCount(bs) != 1) {
            return n + ": block size " + Integer.toUnsignedString(bs) + " is not a power of two in " + MIN_BLOCK_BYTES
                    + ".." + MAX_BLOCK_BYTES;
        }
        if (spec.blockCount() > Integer.MAX_VALUE) {
            return n + ": " + spec.blockCount() + " blocks, more than " + Integer.MAX_VALUE;
        }
        return null;
    }

    /** {@code s} in double quotes on one line: a peer's control characters are escaped, not written to the log. */
    static String quote(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        s.codePoints().forEach(c -> {
            if (c == '"' || c == '\\') {
                out.append('\\').appendCodePoint(c);
            } else if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT) {
                // no Formatter per character: an error about a hostile name stays cheap
                out.append(c <= 0xFFFF ? "\\u" + HEX.toHexDigits((char) c) : "\\U" + HEX.toHexDigits(c));
            } else {
                out.appendCodePoint(c);
            }
        });
        return out.append('"').toString();
    }

    private static String utf8(ByteBuffer b, int len, String what) throws ProtocolException {
        ByteBuffer bytes = b.slice(b.position(), len);
        b.position(b.position() + len);
        try {
            CharBuffer chars = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes);
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw malformed(what + " is not valid UTF-8");
        }
    }

    private static long nonNegative(long v, String what) throws ProtocolException {
        if (v < 0) {
            throw malformed(what + " " + Long.toUnsignedString(v) + " is too large");
        }
        return v;
    }

    private static void need(ByteBuffer b, int bytes, String what) throws ProtocolException {
        if (b.remaining() < bytes) {
            throw malformed(what + " needs " + bytes + " bytes, frame has " + b.remaining());
        }
    }

    private static ProtocolException malformed(String detail) {
        return new ProtocolException(ErrorCode.MALFORMED_FRAME, "malformed frame: " + detail);
    }
}
