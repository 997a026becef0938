package io.drafter.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * nftables over netlink, for the one step that must be quick: deleting a table. The {@code nft} tool costs a process
 * start, its library's set-up and a listing of the ruleset, 10-25 ms of CPU time under load; this is one {@code
 * write} of a three-message batch and one read of the kernel's answer, in the caller's network namespace.
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
    private static final short NFT_MSG_DELTABLE = 2;
    private static final short NFTA_TABLE_NAME = 1;
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
        int nfproto = switch (family) {
            case "ip" -> 2;
            case "ip6" -> 10;
            case "inet" -> 1;
            default -> throw new IllegalArgumentException("unknown nft family '" + family + "'");
        };
        byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
        if (bytes.length == 0 || bytes.length > MAX_NAME || name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("not an nft table name: '" + name + "'");
        }
        String step = "delete nft table " + family + " " + name;
        int seq = SEQUENCE.addAndGet(3);
        int attr = 4 + bytes.length + 1;
        int delete = HEADER + GENMSG + align(attr);
        int total = 2 * (HEADER + GENMSG) + delete;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msg = arena.allocate(total, 4); // zeroed: the NULs and the padding are there
            long at = batch(msg, 0, NFNL_MSG_BATCH_BEGIN, seq);
            header(msg, at, delete, (short) ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE), NLM_F_ACK, seq + 1);
            msg.set(JAVA_BYTE, at + HEADER, (byte) nfproto);
            msg.set(JAVA_SHORT_UNALIGNED, at + HEADER + GENMSG, (short) attr);
            msg.set(JAVA_SHORT_UNALIGNED, at + HEADER + GENMSG + 2, NFTA_TABLE_NAME);
            MemorySegment.copy(bytes, 0, msg, JAVA_BYTE, at + HEADER + GENMSG + 4, bytes.length);
            batch(msg, at + delete, NFNL_MSG_BATCH_END, seq + 2);

            int fd = Libc.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER, "a netlink socket to " + step);
            try {
                MemorySegment cs = Libc.allocateCallState(arena);
                long n = Libc.writeRaw(cs, fd, msg, total);
                if (n != total) {
                    throw new LinuxException("write", n < 0 ? Libc.errno(cs) : Errno.EIO, step);
                }
                // The kernel runs the batch inside that write: its answer is queued already.
                MemorySegment in = arena.allocate(8192, 4);
                while (true) {
                    long got = Libc.recvRaw(cs, fd, in, in.byteSize(), MSG_DONTWAIT);
                    if (got < 0) {
                        throw new LinuxException("recv", Libc.errno(cs), step);
                    }
                    Integer error = answer(in, got, seq + 1);
                    if (error != null) {
                        if (error == 0) {
                            return true;
                        }
                        if (error == -Errno.ENOENT) {
                            return false;
                        }
                        throw new LinuxException("netlink", -error, step);
                    }
                }
            } finally {
                Libc.close(fd);
            }
        }
    }

    /**
     * Among the {@code length} bytes of {@code in}, the error of the acknowledgement of message {@code seq} (the
     * delete; 0 if it was done), or of a refusal of the batch around it; {@code null} if neither is there.
     */
    private static Integer answer(MemorySegment in, long length, int seq) {
        long at = 0;
        while (at + HEADER <= length) {
            int len = in.get(JAVA_INT_UNALIGNED, at);
            if (len < HEADER || at + len > length) {
                return null;
            }
            short type = in.get(JAVA_SHORT_UNALIGNED, at + 4);
            // struct nlmsgerr: the error, then the header of the message it answers. A refusal of the whole batch
            // (EPERM) answers its first message.
            if (type == NLMSG_ERROR && len >= HEADER + 4 + HEADER) {
                int of = in.get(JAVA_INT_UNALIGNED, at + HEADER + 4 + 8) - (seq - 1);
                int error = in.get(JAVA_INT_UNALIGNED, at + HEADER);
                if (of == 1 || (error != 0 && of >= 0 && of <= 2)) {
                    return error;
                }
            }
            at += align(len);
        }
        return null;
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
