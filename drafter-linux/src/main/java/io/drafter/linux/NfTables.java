package io.drafter.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * nftables over netlink, for the steps that must be quick: deleting a table, waking a dormant one, and asking
 * whether one is there. The {@code nft} tool costs a process start, its library's set-up and a listing of the
 * ruleset, 10-50 ms under load; each of these is one {@code write} and one read of the kernel's answer, in the
 * caller's network namespace.
 *
 * <p>Thread-safe: each call opens its own socket.
 */
public final class NfTables {
    private NfTables() {}

    private static final int AF_NETLINK = 16;
    private static final int SOCK_RAW = 3;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int NETLINK_NETFILTER = 12;
    private static final int MSG_DONTWAIT = 0x40;

    private static final short NLM_F_REQUEST = 1;
    private static final short NLM_F_ACK = 4;
    private static final short NLMSG_ERROR = 2;
    private static final int NFNL_SUBSYS_NFTABLES = 10;
    private static final short NFNL_MSG_BATCH_BEGIN = 0x10;
    private static final short NFNL_MSG_BATCH_END = 0x11;
    private static final short NFT_MSG_NEWTABLE = 0;
    private static final short NFT_MSG_GETTABLE = 1;
    private static final short NFT_MSG_DELTABLE = 2;
    private static final short NFTA_TABLE_NAME = 1;
    private static final short NFTA_TABLE_FLAGS = 2;
    /** {@code NFT_TABLE_F_DORMANT}: the table's chains are hooked to nothing. */
    public static final int DORMANT = 1;

    private static final int HEADER = 16; // struct nlmsghdr
    private static final int GENMSG = 4; // struct nfgenmsg
    private static final int MAX_NAME = 255; // NFT_NAME_MAXLEN less its NUL

    private static final AtomicInteger SEQUENCE = new AtomicInteger((int) (System.nanoTime() & 0xffff) << 12);

    /**
     * Deletes nft table {@code name} of {@code family} ({@code ip}, {@code ip6} or {@code inet}) with its chains and
     * rules, in one transaction. Returns {@code false} if there was no such table.
     *
     * @throws IllegalArgumentException for an unknown family or a name nft could not hold
     * @throws LinuxException if the kernel refused (e.g. {@code EPERM} without {@code CAP_NET_ADMIN}) or did not
     *     answer
     */
    public static boolean deleteTable(String family, String name) throws LinuxException {
        return transact("delete nft table " + family + " " + name, NFT_MSG_DELTABLE, family, name, null);
    }

    /**
     * Sets the flags of nft table {@code name} of {@code family} to {@code flags}: {@link #DORMANT} unhooks its chains,
     * 0 hooks them again (a table made {@code flags dormant} ahead, woken in microseconds when it is needed). The
     * kernel would create a table that is not there, so call it only on one the caller made and owns.
     *
     * @throws IllegalArgumentException for an unknown family or a name nft could not hold
     * @throws LinuxException if the kernel refused or did not answer
     */
    public static void setTableFlags(String family, String name, int flags) throws LinuxException {
        transact("set the flags of nft table " + family + " " + name, NFT_MSG_NEWTABLE, family, name, flags);
    }

    /**
     * The flags of nft table {@code name} of {@code family} ({@link #DORMANT} or 0), or -1 if there is no such table.
     *
     * @throws IllegalArgumentException for an unknown family or a name nft could not hold
     * @throws LinuxException if the kernel refused or did not answer
     */
    public static int tableFlags(String family, String name) throws LinuxException {
        int nfproto = nfproto(family);
        byte[] bytes = tableName(name);
        String step = "look up nft table " + family + " " + name;
        int seq = SEQUENCE.addAndGet(3);
        int attr = 4 + bytes.length + 1;
        int total = HEADER + GENMSG + align(attr);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msg = arena.allocate(total, 4);
            header(msg, 0, total, (short) ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE), NLM_F_ACK, seq);
            nameRequest(msg, 0, nfproto, bytes, attr);
            return exchange(arena, msg, total, step, (in, got) -> flagsReply(in, got, seq, step));
        }
    }

    /** In an answer to the GETTABLE {@code seq}: the table's flags, -1 for no such table, {@code null} if not there. */
    private static Integer flagsReply(MemorySegment in, long length, int seq, String step) throws LinuxException {
        return eachMessage(in, length, (at, len, type) -> {
            if (type == (short) ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE)
                    && in.get(JAVA_INT_UNALIGNED, at + 8) == seq) {
                return flagsOf(in, at + HEADER + GENMSG, at + len);
            }
            if (type == NLMSG_ERROR && len >= HEADER + 4 + HEADER) {
                int error = in.get(JAVA_INT_UNALIGNED, at + HEADER);
                if (in.get(JAVA_INT_UNALIGNED, at + HEADER + 4 + 8) == seq && error != 0) {
                    if (error == -Errno.ENOENT) {
                        return -1;
                    }
                    throw new LinuxException("netlink", -error, step);
                }
            }
            return null;
        });
    }

    /** One netlink message of an answer: what it comes to, or {@code null} to look at the next. */
    @FunctionalInterface
    private interface Message {
        Integer at(long at, int len, short type) throws LinuxException;
    }

    /** The first of {@code message} over the whole messages among the {@code length} bytes of {@code in} that is not null. */
    private static Integer eachMessage(MemorySegment in, long length, Message message) throws LinuxException {
        long at = 0;
        while (at + HEADER <= length) {
            int len = in.get(JAVA_INT_UNALIGNED, at);
            if (len < HEADER || at + len > length) {
                return null;
            }
            Integer r = message.at(at, len, in.get(JAVA_SHORT_UNALIGNED, at + 4));
            if (r != null) {
                return r;
            }
            at += align(len);
        }
        return null;
    }

    /** NFTA_TABLE_FLAGS among the attributes in {@code [at, end)} of {@code in} (0 if absent). */
    private static int flagsOf(MemorySegment in, long at, long end) {
        while (at + 4 <= end) {
            int len = Short.toUnsignedInt(in.get(JAVA_SHORT_UNALIGNED, at));
            int type = in.get(JAVA_SHORT_UNALIGNED, at + 2) & 0x3fff;
            if (len < 4 || at + len > end) {
                break;
            }
            if (type == NFTA_TABLE_FLAGS && len >= 8) {
                return Integer.reverseBytes(in.get(JAVA_INT_UNALIGNED, at + 4)); // network byte order
            }
            at += align(len);
        }
        return 0;
    }

    /**
     * One message of {@code type} for table {@code name} (with NFTA_TABLE_FLAGS {@code flags} unless null) in a batch
     * of its own. Returns {@code false} if the kernel found no such table.
     */
    private static boolean transact(String step, short type, String family, String name, Integer flags)
            throws LinuxException {
        int nfproto = nfproto(family);
        byte[] bytes = tableName(name);
        int seq = SEQUENCE.addAndGet(3);
        int attr = 4 + bytes.length + 1;
        int body = HEADER + GENMSG + align(attr) + (flags == null ? 0 : 8);
        int total = 2 * (HEADER + GENMSG) + body;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msg = arena.allocate(total, 4); // zeroed: the NULs and the padding are there
            long at = batch(msg, 0, NFNL_MSG_BATCH_BEGIN, seq);
            header(msg, at, body, (short) ((NFNL_SUBSYS_NFTABLES << 8) | type), NLM_F_ACK, seq + 1);
            nameRequest(msg, at, nfproto, bytes, attr);
            if (flags != null) {
                long f = at + HEADER + GENMSG + align(attr);
                msg.set(JAVA_SHORT_UNALIGNED, f, (short) 8);
                msg.set(JAVA_SHORT_UNALIGNED, f + 2, NFTA_TABLE_FLAGS);
                msg.set(JAVA_INT_UNALIGNED, f + 4, Integer.reverseBytes(flags)); // network byte order
            }
            batch(msg, at + body, NFNL_MSG_BATCH_END, seq + 2);
            int error = exchange(arena, msg, total, step, (in, got) -> answer(in, got, seq + 1));
            if (error == 0) {
                return true;
            }
            if (error == -Errno.ENOENT) {
                return false;
            }
            throw new LinuxException("netlink", -error, step);
        }
    }

    /** What the kernel's answers read so far come to, or {@code null} to read on. */
    @FunctionalInterface
    private interface Reply<T> {
        T of(MemorySegment in, long length) throws LinuxException;
    }

    /**
     * Writes the {@code total} bytes of {@code msg} to a new netlink socket and reads the kernel's answers until {@code
     * reply} makes something of them. The kernel handles the request inside that write: its answer is queued already.
     */
    private static <T> T exchange(Arena arena, MemorySegment msg, int total, String step, Reply<T> reply)
            throws LinuxException {
        int fd = Libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER, "a netlink socket to " + step);
        try {
            MemorySegment cs = Libc.allocateCallState(arena);
            long n = Libc.writeRaw(cs, fd, msg, total);
            if (n != total) {
                throw new LinuxException("write", n < 0 ? Libc.errno(cs) : Errno.EIO, step);
            }
            MemorySegment in = arena.allocate(8192, 4);
            while (true) {
                long got = Libc.recvRaw(cs, fd, in, in.byteSize(), MSG_DONTWAIT);
                if (got < 0) {
                    throw new LinuxException("recv", Libc.errno(cs), step);
                }
                T t = reply.of(in, got);
                if (t != null) {
                    return t;
                }
            }
        } finally {
            Libc.close(fd);
        }
    }

    private static int nfproto(String family) {
        return switch (family) {
            case "ip" -> 2;
            case "ip6" -> 10;
            case "inet" -> 1;
            default -> throw new IllegalArgumentException("unknown nft family '" + family + "'");
        };
    }

    private static byte[] tableName(String name) {
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length > MAX_NAME || name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("not an nft table name: '" + name + "'");
        }
        return bytes;
    }

    /** The nfgenmsg and NFTA_TABLE_NAME of the message whose header is at {@code at}. */
    private static void nameRequest(MemorySegment msg, long at, int nfproto, byte[] name, int attr) {
        msg.set(JAVA_BYTE, at + HEADER, (byte) nfproto);
        msg.set(JAVA_SHORT_UNALIGNED, at + HEADER + GENMSG, (short) attr);
        msg.set(JAVA_SHORT_UNALIGNED, at + HEADER + GENMSG + 2, NFTA_TABLE_NAME);
        MemorySegment.copy(name, 0, msg, JAVA_BYTE, at + HEADER + GENMSG + 4, name.length);
    }

    /**
     * Among the {@code length} bytes of {@code in}, the error of the acknowledgement of message {@code seq} (the
     * delete; 0 if it was done), or of a refusal of the batch around it; {@code null} if neither is there.
     */
    private static Integer answer(MemorySegment in, long length, int seq) throws LinuxException {
        return eachMessage(in, length, (at, len, type) -> {
            // struct nlmsgerr: the error, then the header of the message it answers. A refusal of the whole batch
            // (EPERM) answers its first message.
            if (type == NLMSG_ERROR && len >= HEADER + 4 + HEADER) {
                int of = in.get(JAVA_INT_UNALIGNED, at + HEADER + 4 + 8) - (seq - 1);
                int error = in.get(JAVA_INT_UNALIGNED, at + HEADER);
                if (of == 1 || (error != 0 && of >= 0 && of <= 2)) {
                    return error;
                }
            }
            return null;
        });
    }

    private static long batch(MemorySegment msg, long at, short type, int seq) {
        header(msg, at, HEADER + GENMSG, type, (short) 0, seq);
        // nfgenmsg: family AF_UNSPEC, version 0, res_id the subsystem in network byte order.
        msg.set(JAVA_BYTE, at + HEADER + 3, (byte) NFNL_SUBSYS_NFTABLES);
        return at + HEADER + GENMSG;
    }

    private static void header(MemorySegment msg, long at, int len, short type, short flags, int seq) {
        msg.set(JAVA_INT_UNALIGNED, at, len);
        msg.set(JAVA_SHORT_UNALIGNED, at + 4, type);
        msg.set(JAVA_SHORT_UNALIGNED, at + 6, (short) (NLM_F_REQUEST | flags));
        msg.set(JAVA_INT_UNALIGNED, at + 8, seq);
    }

    private static int align(int n) {
        return (n + 3) & ~3;
    }
}
