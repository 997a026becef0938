package io.drafter.linux.fuse;

/**
 * The FUSE kernel protocol (version 7.39, {@code <linux/fuse.h>}) as used over {@code /dev/fuse}: opcodes, flags
 * and struct offsets. All fields are little-endian, naturally aligned.
 *
 * <p>A request read from {@code /dev/fuse} is a {@code fuse_in_header} followed by the opcode's body; a reply is
 * written with one {@code write}/{@code writev} of a {@code fuse_out_header} followed by the reply body.
 *
 * <pre>
 * fuse_in_header (40)          fuse_out_header (16)       fuse_attr (88)
 *   0 len       u32              0 len     u32              0 ino  u64    48 atimensec u32
 *   4 opcode    u32              4 error   i32 (-errno)     8 size u64    60 mode      u32
 *   8 unique    u64              8 unique  u64             16 blocks u64  64 nlink     u32
 *  16 nodeid    u64                                        24 atime u64   68 uid/72 gid u32
 *  24 uid/28 gid/32 pid u32                                32 mtime u64   76 rdev      u32
 *  36 total_extlen u16                                     40 ctime u64   80 blksize   u32
 *
 * fuse_init_in: 0 major, 4 minor, 8 max_readahead, 12 flags, 16 flags2 (u32 each)
 * fuse_init_out (64): 0 major, 4 minor, 8 max_readahead, 12 flags (u32), 16 max_background u16,
 *   18 congestion_threshold u16, 20 max_write u32, 24 time_gran u32, 28 max_pages u16, 30 map_alignment u16,
 *   32 flags2 u32
 * fuse_entry_out (128): 0 nodeid, 8 generation, 16 entry_valid, 24 attr_valid (u64), 32 entry_valid_nsec,
 *   36 attr_valid_nsec (u32), 40 attr
 * fuse_attr_out (104): 0 attr_valid u64, 8 attr_valid_nsec u32, 16 attr
 * fuse_setattr_in (88): 0 valid u32, 8 fh, 16 size (u64), 68 mode u32
 * fuse_open_in (8): 0 flags, 4 open_flags;  fuse_open_out (16): 0 fh u64, 8 open_flags u32
 * fuse_read_in / fuse_write_in (40): 0 fh, 8 offset (u64), 16 size u32, 20 read/write_flags u32; WRITE data at 40
 * fuse_write_out (8): 0 size u32
 * fuse_kstatfs (80): 0 blocks, 8 bfree, 16 bavail, 24 files, 32 ffree (u64), 40 bsize, 44 namelen, 48 frsize (u32)
 * fuse_dirent (24 + name, padded to 8): 0 ino, 8 off (u64), 16 namelen, 20 type (u32), 24 name
 * fuse_forget_in (8): nlookup;  fuse_batch_forget_in (8): 0 count u32, then count x (nodeid u64, nlookup u64)
 * fuse_interrupt_in (8): unique
 * </pre>
 */
public final class FuseAbi {
    private FuseAbi() {}

    public static final int KERNEL_VERSION = 7;
    public static final int KERNEL_MINOR_VERSION = 39;
    public static final long ROOT_ID = 1;

    // opcodes
    public static final int LOOKUP = 1;
    public static final int FORGET = 2;
    public static final int GETATTR = 3;
    public static final int SETATTR = 4;
    public static final int OPEN = 14;
    public static final int READ = 15;
    public static final int WRITE = 16;
    public static final int STATFS = 17;
    public static final int RELEASE = 18;
    public static final int FSYNC = 20;
    public static final int FLUSH = 25;
    public static final int INIT = 26;
    public static final int OPENDIR = 27;
    public static final int READDIR = 28;
    public static final int RELEASEDIR = 29;
    public static final int FSYNCDIR = 30;
    public static final int ACCESS = 34;
    public static final int INTERRUPT = 36;
    public static final int DESTROY = 38;
    public static final int BATCH_FORGET = 42;

    // INIT flags
    public static final int ASYNC_READ = 1;
    public static final int BIG_WRITES = 1 << 5;
    public static final int AUTO_INVAL_DATA = 1 << 12;
    public static final int ASYNC_DIO = 1 << 15;
    public static final int WRITEBACK_CACHE = 1 << 16;
    public static final int PARALLEL_DIROPS = 1 << 18;
    public static final int MAX_PAGES = 1 << 22;
    public static final int INIT_EXT = 1 << 30;

    /** {@code flags2} bits (INIT flags above bit 31, sent when both sides set {@link #INIT_EXT}). */
    public static final int DIRECT_IO_ALLOW_MMAP2 = 1 << (36 - 32);

    // open reply flags
    public static final int FOPEN_DIRECT_IO = 1;
    public static final int FOPEN_KEEP_CACHE = 1 << 1;

    // setattr valid bits
    public static final int FATTR_MODE = 1;
    public static final int FATTR_UID = 1 << 1;
    public static final int FATTR_GID = 1 << 2;
    public static final int FATTR_SIZE = 1 << 3;

    // sizes
    public static final int IN_HEADER_BYTES = 40;
    public static final int OUT_HEADER_BYTES = 16;
    public static final int INIT_OUT_BYTES = 64;
    public static final int ATTR_BYTES = 88;
    public static final int ENTRY_OUT_BYTES = 128;
    public static final int ATTR_OUT_BYTES = 104;
    public static final int OPEN_OUT_BYTES = 16;
    public static final int WRITE_IN_BYTES = 40;
    public static final int WRITE_OUT_BYTES = 8;
    public static final int STATFS_OUT_BYTES = 80;
    public static final int DIRENT_HEADER_BYTES = 24;

    // fuse_in_header offsets
    public static final long IN_LEN = 0;
    public static final long IN_OPCODE = 4;
    public static final long IN_UNIQUE = 8;
    public static final long IN_NODEID = 16;
    public static final long IN_UID = 24;
    public static final long IN_GID = 28;
    public static final long IN_PID = 32;

    // fuse_out_header offsets
    public static final long OUT_LEN = 0;
    public static final long OUT_ERROR = 4;
    public static final long OUT_UNIQUE = 8;

    /** The file type bits of {@code st_mode}. */
    public static final int S_IFDIR = 0040000;

    public static final int S_IFREG = 0100000;

    /** {@code d_type} values in a {@code fuse_dirent}. */
    public static final int DT_DIR = 4;

    public static final int DT_REG = 8;

    /** The smallest read buffer the kernel accepts for {@code maxWriteBytes} (header, write_in, data). */
    public static long minimumReadBufferBytes(int maxWriteBytes) {
        return Math.max(8192, IN_HEADER_BYTES + WRITE_IN_BYTES + (long) maxWriteBytes);
    }
}
