package io.drafter.expose.fuse;

import java.time.Duration;

/**
 * How a {@link DeviceMount} serves: threads, request sizes, caching and the mount's writeback tuning.
 *
 * @param minThreads serving threads kept reading {@code /dev/fuse} (at least 1)
 * @param maxThreads upper bound of serving threads; more are started only while every thread is busy (e.g. in reads
 *     that wait for post-copy blocks)
 * @param maxPages pages per READ/WRITE request (1..256); also sets {@code max_read}/{@code max_write}
 * @param maxBackground outstanding asynchronous requests (readahead, writeback) the kernel may queue; must exceed the
 *     reads that can wait at once, or waiting readaheads hold up readaheads of present blocks
 * @param readAheadKb the bdi's {@code read_ahead_kb}; 0 keeps the kernel's default (128)
 * @param writebackCache ask for {@code FUSE_WRITEBACK_CACHE}: {@code write(2)} lands in the page cache and reaches
 *     the device at writeback/{@code fsync} instead of synchronously
 * @param keepCache keep a file's page cache across opens ({@code FOPEN_KEEP_CACHE})
 * @param directIo {@code read(2)}/{@code write(2)} bypass the page cache ({@code FOPEN_DIRECT_IO}); shared mmap
 *     still goes through it ({@code FUSE_DIRECT_IO_ALLOW_MMAP}, kernel 6.6+; without it mmap fails with ENODEV)
 * @param bdiMaxRatioPercent the bdi's {@code max_ratio} (FUSE sets 1); negative keeps the kernel's value
 * @param bdiStrictLimit the bdi's {@code strict_limit} (FUSE sets 1): 0 or 1, negative keeps the kernel's value
 * @param attrTimeout how long the kernel may cache names and attributes of device files (their size never changes)
 * @param probeTimeout how long {@link DeviceMount#mount} waits for the probe round trip
 * @param ownerUid the user owning the device files (mode 0600) and the root directory (0700): the only user besides
 *     root that may open them, e.g. the user QEMU runs as; -1 for the mounting process's user
 * @param ownerGid the group of the device files and the root directory; -1 with {@code ownerUid} -1
 */
public record FuseOptions(
        int minThreads,
        int maxThreads,
        int maxPages,
        int maxBackground,
        int readAheadKb,
        boolean writebackCache,
        boolean keepCache,
        boolean directIo,
        int bdiMaxRatioPercent,
        int bdiStrictLimit,
        Duration attrTimeout,
        Duration probeTimeout,
        int ownerUid,
        int ownerGid) {

    public FuseOptions {
        if (minThreads < 1 || maxThreads < minThreads) {
            throw new IllegalArgumentException(
                    "FUSE threads: need 1 <= minThreads <= maxThreads, got " + minThreads + " and " + maxThreads);
        }
        if (maxPages < 1 || maxPages > 256) {
            throw new IllegalArgumentException("FUSE maxPages must be 1..256, got " + maxPages);
        }
        if (maxBackground < 1 || maxBackground > 65535) {
            throw new IllegalArgumentException("FUSE maxBackground must be 1..65535, got " + maxBackground);
        }
        if (bdiStrictLimit > 1) {
            throw new IllegalArgumentException("FUSE bdiStrictLimit must be 0, 1 or negative, got " + bdiStrictLimit);
        }
        if ((ownerUid < 0) != (ownerGid < 0) || ownerUid < -1 || ownerGid < -1) {
            throw new IllegalArgumentException(
                    "FUSE owner must be a uid and a gid (both >= 0) or -1 and -1, got " + ownerUid + ":" + ownerGid);
        }
    }

    /** The defaults chosen from the measurements in {@code docs/fuse.md}. */
    public static FuseOptions defaults() {
        return new FuseOptions(
                4, 64, 256, 64, 1024, false, true, true, 100, 0, Duration.ofHours(1), Duration.ofSeconds(10), -1, -1);
    }

    /** The largest READ or WRITE payload, in bytes. */
    public int maxIoBytes() {
        return maxPages * 4096;
    }

    public FuseOptions withThreads(int min, int max) {
        return toBuilder().threads(min, max).build();
    }

    public FuseOptions withWritebackCache(boolean on) {
        return toBuilder().writebackCache(on).build();
    }

    public FuseOptions withDirectIo(boolean on) {
        return toBuilder().directIo(on).build();
    }

    public FuseOptions withReadAheadKb(int kb) {
        return toBuilder().readAheadKb(kb).build();
    }

    public FuseOptions withMaxPages(int pages) {
        return toBuilder().maxPages(pages).build();
    }

    public FuseOptions withBdiLimits(int maxRatioPercent, int strictLimit) {
        return toBuilder().bdiLimits(maxRatioPercent, strictLimit).build();
    }

    /** These options with the device files owned by {@code uid}:{@code gid} (see {@link #ownerUid()}). */
    public FuseOptions withOwner(int uid, int gid) {
        return toBuilder().owner(uid, gid).build();
    }

    /** A builder starting from these options. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Changes some options of a {@link FuseOptions}; {@link #build()} checks them. Not thread-safe. */
    public static final class Builder {
        private int minThreads;
        private int maxThreads;
        private int maxPages;
        private int maxBackground;
        private int readAheadKb;
        private boolean writebackCache;
        private boolean keepCache;
        private boolean directIo;
        private int bdiMaxRatioPercent;
        private int bdiStrictLimit;
        private Duration attrTimeout;
        private Duration probeTimeout;
        private int ownerUid;
        private int ownerGid;

        private Builder(FuseOptions o) {
            minThreads = o.minThreads;
            maxThreads = o.maxThreads;
            maxPages = o.maxPages;
            maxBackground = o.maxBackground;
            readAheadKb = o.readAheadKb;
            writebackCache = o.writebackCache;
            keepCache = o.keepCache;
            directIo = o.directIo;
            bdiMaxRatioPercent = o.bdiMaxRatioPercent;
            bdiStrictLimit = o.bdiStrictLimit;
            attrTimeout = o.attrTimeout;
            probeTimeout = o.probeTimeout;
            ownerUid = o.ownerUid;
            ownerGid = o.ownerGid;
        }

        public Builder threads(int min, int max) {
            minThreads = min;
            maxThreads = max;
            return this;
        }

        public Builder maxPages(int pages) {
            maxPages = pages;
            return this;
        }

        public Builder maxBackground(int requests) {
            maxBackground = requests;
            return this;
        }

        public Builder readAheadKb(int kb) {
            readAheadKb = kb;
            return this;
        }

        public Builder writebackCache(boolean on) {
            writebackCache = on;
            return this;
        }

        public Builder keepCache(boolean on) {
            keepCache = on;
            return this;
        }

        public Builder directIo(boolean on) {
            directIo = on;
            return this;
        }

        public Builder bdiLimits(int maxRatioPercent, int strictLimit) {
            bdiMaxRatioPercent = maxRatioPercent;
            bdiStrictLimit = strictLimit;
            return this;
        }

        public Builder attrTimeout(Duration timeout) {
            attrTimeout = timeout;
            return this;
        }

        public Builder probeTimeout(Duration timeout) {
            probeTimeout = timeout;
            return this;
        }

        public Builder owner(int uid, int gid) {
            ownerUid = uid;
            ownerGid = gid;
            return this;
        }

        public FuseOptions build() {
            return new FuseOptions(
                    minThreads,
                    maxThreads,
                    maxPages,
                    maxBackground,
                    readAheadKb,
                    writebackCache,
                    keepCache,
                    directIo,
                    bdiMaxRatioPercent,
                    bdiStrictLimit,
                    attrTimeout,
                    probeTimeout,
                    ownerUid,
                    ownerGid);
        }
    }
}
