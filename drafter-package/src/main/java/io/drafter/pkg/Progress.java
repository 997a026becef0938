package io.drafter.pkg;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Receives progress of long byte-moving work (packing, extracting, unpacking images).
 *
 * <p>Called from the working thread only.
 */
public interface Progress {
    /** Reports that {@code doneBytes} of {@code totalBytes} are done; {@code item} names the current part. */
    void update(String item, long doneBytes, long totalBytes);

    /** Reports that the work ended (successfully or not). */
    void finish();

    /** Discards progress. */
    Progress NONE = new Progress() {
        @Override
        public void update(String item, long doneBytes, long totalBytes) {}

        @Override
        public void finish() {}
    };

    /** A one-line progress bar redrawn in place on {@code out} (a terminal), at most ten times a second. */
    static Progress bar(PrintStream out, String verb) {
        return new Progress() {
            private final long startNs = System.nanoTime();
            private long lastDrawNs;
            private boolean drawn;

            @Override
            public void update(String item, long doneBytes, long totalBytes) {
                long now = System.nanoTime();
                if (drawn && now - lastDrawNs < 100_000_000L && doneBytes < totalBytes) {
                    return;
                }
                lastDrawNs = now;
                drawn = true;
                double fraction = totalBytes <= 0 ? 1 : Math.min(1, (double) doneBytes / totalBytes);
                int width = 30;
                int filled = (int) (fraction * width);
                double seconds = Math.max(1e-3, (now - startNs) / 1e9);
                out.print(String.format(
                        Locale.ROOT,
                        "\r%s %-8s [%s%s] %5.1f%% %s/%s %s/s   ",
                        verb,
                        item,
                        "#".repeat(filled),
                        " ".repeat(width - filled),
                        fraction * 100,
                        human(doneBytes),
                        human(totalBytes),
                        human((long) (doneBytes / seconds))));
                out.flush();
            }

            @Override
            public void finish() {
                if (drawn) {
                    out.println();
                    out.flush();
                }
            }
        };
    }

    /** Formats a byte count with a binary unit, e.g. {@code 1.5 GiB}. */
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
}
