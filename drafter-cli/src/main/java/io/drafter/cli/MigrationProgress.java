package io.drafter.cli;

import io.drafter.migration.destination.DestinationListener;
import io.drafter.migration.source.MigrationSource;
import io.drafter.migration.source.SourceCounters;
import io.drafter.migration.source.SourcePhase;
import io.drafter.peer.Peer;
import io.drafter.storage.DeviceStack;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * {@code drafter peer}'s live progress display on a terminal: one line on stderr, redrawn in place four times a second
 * while a migration runs, in the packager's style. Out: phase, bytes sent, rate, the dirty round, and in the full
 * copy the share done and an ETA. In: blocks here of all, rate, ETA, and after the resume the blocks still to come
 * (post-copy). Off a terminal (or with {@code --progress=false}) nothing is drawn: the peer's phase lines say it all.
 * The peer's own lines go through {@link #clearing}, which clears the progress line first.
 *
 * <p><b>Note:</b> thread-safe; one drawing thread.
 */
final class MigrationProgress implements DestinationListener, AutoCloseable {
    private static final long PERIOD_MS = 250;

    private final PrintStream err;
    private final boolean on;
    private final Map<String, long[]> inBlocks = new ConcurrentHashMap<>();
    private volatile Supplier<Peer> peer = () -> null;
    private Thread drawer;
    private boolean drawn;
    private long lastNs;
    private long lastAmount = -1;
    private double rate;
    private String lastKind = "";

    MigrationProgress(PrintStream err, boolean on) {
        this.err = err;
        this.on = on;
    }

    /** Starts drawing (when on) for the peer {@code peer} returns (may return null until it exists). */
    MigrationProgress start(Supplier<Peer> peer) {
        this.peer = peer;
        if (on) {
            drawer = Thread.ofVirtual().name("migration-progress").start(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        Thread.sleep(PERIOD_MS);
                    } catch (InterruptedException e) {
                        return;
                    }
                    draw();
                }
            });
        }
        return this;
    }

    @Override
    public void onProgress(String device, long presentBlocks, long totalBlocks) {
        inBlocks.put(device, new long[] {presentBlocks, totalBlocks});
    }

    /** {@code out}, whose lines clear the progress line first (the next redraw puts it back below them). */
    PrintStream clearing(PrintStream out) {
        if (!on) {
            return out;
        }
        MigrationProgress self = this;
        return new PrintStream(out, true) {
            @Override
            public void println(String line) {
                synchronized (self) {
                    clear();
                    super.println(line);
                    flush();
                }
            }
        };
    }

    private synchronized void draw() {
        String line = line(System.nanoTime());
        if (line == null) {
            clear();
            return;
        }
        err.print("\r" + line + "\033[K");
        err.flush();
        drawn = true;
    }

    private void clear() {
        if (drawn) {
            err.print("\r\033[K");
            err.flush();
            drawn = false;
        }
    }

    /** The progress line now, or {@code null} when no migration runs. */
    String line(long nowNs) {
        Peer p = peer.get();
        MigrationSource out = p == null ? null : p.outgoing();
        if (out != null && !out.phase().terminal()) {
            SourceCounters c = out.counters();
            long totalBlocks = totalBlocks(p);
            return outLine(out.phase(), c, totalBlocks, rate("out", c.bytesSent(), nowNs));
        }
        var in = p == null ? null : p.incoming();
        if (in != null && in.phase().terminal()) {
            inBlocks.clear(); // the last progress report may come before the last blocks
        }
        long present = 0;
        long total = 0;
        for (long[] v : inBlocks.values()) {
            present += v[0];
            total += v[1];
        }
        if (total > 0 && present < total) {
            return inLine(present, total, p != null, rate("in", present, nowNs));
        }
        rate("", 0, nowNs);
        return null;
    }

    /** The rate of {@code amount} per second, smoothed. */
    private double rate(String kind, long amount, long nowNs) {
        if (!kind.equals(lastKind) || lastAmount < 0 || amount < lastAmount) {
            lastKind = kind;
            lastAmount = amount;
            lastNs = nowNs;
            rate = 0;
            return 0;
        }
        double dt = (nowNs - lastNs) / 1e9;
        if (dt >= 0.2) {
            double now = (amount - lastAmount) / dt;
            rate = rate == 0 ? now : 0.5 * rate + 0.5 * now;
            lastAmount = amount;
            lastNs = nowNs;
        }
        return rate;
    }

    private static long totalBlocks(Peer p) {
        long total = 0;
        for (DeviceStack s : p.stacks().values()) {
            if (s.config().migrated()) {
                total += (s.top().sizeBytes() + s.config().blockSizeBytes() - 1)
                        / s.config().blockSizeBytes();
            }
        }
        return total;
    }

    /** The line of a migration out. */
    static String outLine(SourcePhase phase, SourceCounters c, long totalBlocks, double bytesPerSecond) {
        StringBuilder b = new StringBuilder("Migrating out ");
        b.append(String.format(Locale.ROOT, "%-12s", phase.name().toLowerCase(Locale.ROOT)));
        if (phase == SourcePhase.FULL_COPY && totalBlocks > 0) {
            long done = Math.min(totalBlocks, c.blocksSent() + c.zeroBlocks());
            b.append(' ').append(bar((double) done / totalBlocks));
            double perBlock = done == 0 ? 0 : (double) c.bytesSent() / done;
            if (bytesPerSecond > 0 && perBlock > 0) {
                b.append(" ETA ").append(seconds((totalBlocks - done) * perBlock / bytesPerSecond));
            }
        } else if (phase == SourcePhase.DIRTY_ROUNDS || phase.ordinal() > SourcePhase.DIRTY_ROUNDS.ordinal()) {
            b.append(" round ").append(c.rounds());
        }
        b.append(' ')
                .append(human(c.bytesSent()))
                .append(" sent ")
                .append(human((long) bytesPerSecond))
                .append("/s");
        return b.toString();
    }

    /** The line of a migration in: before the resume ({@code resumed} false) or the post-copy after it. */
    static String inLine(long present, long total, boolean resumed, double blocksPerSecond) {
        StringBuilder b = new StringBuilder(resumed ? "Post-copy    " : "Migrating in ");
        b.append(bar((double) present / total))
                .append(' ')
                .append(present)
                .append('/')
                .append(total)
                .append(" blocks");
        if (resumed) {
            b.append(", ").append(total - present).append(" to come");
        }
        if (blocksPerSecond > 0) {
            b.append(String.format(Locale.ROOT, " %.0f blocks/s ETA ", blocksPerSecond))
                    .append(seconds((total - present) / blocksPerSecond));
        }
        return b.toString();
    }

    private static String bar(double fraction) {
        double f = Math.max(0, Math.min(1, fraction));
        int width = 30;
        int filled = (int) (f * width);
        return String.format(Locale.ROOT, "[%s%s] %5.1f%%", "#".repeat(filled), " ".repeat(width - filled), f * 100);
    }

    private static String seconds(double s) {
        if (s < 60) {
            return String.format(Locale.ROOT, "%.0f s", Math.ceil(s));
        }
        long m = (long) Math.ceil(s / 60);
        return m < 60 ? m + " min" : String.format(Locale.ROOT, "%d h %02d min", m / 60, m % 60);
    }

    /** A byte count with a binary unit, as the packager's progress bar shows it. */
    static String human(long bytes) {
        String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    @Override
    public synchronized void close() {
        if (drawer != null) {
            drawer.interrupt();
        }
        clear();
    }
}
