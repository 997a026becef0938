package io.drafter.cli;

import java.io.PrintStream;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The {@code drafter} command's logging: the library modules log through the JDK's {@link System.Logger} facade,
 * which goes to {@code java.util.logging} unless an application routes it elsewhere; the command replaces JUL's
 * default two-line console output with one line per record on stderr:
 *
 * <pre>2026-12-06T16:20:01.123Z INFO  Peer: suspended VM in 290 ms</pre>
 *
 * <p>time (UTC, milliseconds), level ({@code ERROR}, {@code WARN}, {@code INFO}, {@code DEBUG}, {@code TRACE}),
 * component (the last part of the logger name: the class that logged) and the message on one line. A record's
 * exception is summarised on the same line; its stack trace follows only at {@code debug}.
 *
 * <p>A few records only announce a failure that the command reports itself, once, as its {@code drafter: …} line
 * or its own message (a failed migration, a failed helper command): those are shown at {@code debug} only, so each
 * failure is printed once. With {@code -Djava.util.logging.config.file} (or {@code .class}) the user's
 * configuration is kept as it is.
 *
 * <p><b>Note:</b> {@link #configure} is called from the command's main thread before the command runs.
 */
public final class LogSetup {
    /** {@code --log-level}. */
    public enum LogLevel {
        ERROR(Level.SEVERE),
        WARN(Level.WARNING),
        INFO(Level.INFO),
        DEBUG(Level.FINE);

        final Level jul;

        LogLevel(Level jul) {
            this.jul = jul;
        }
    }

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern(
                    "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", Locale.ROOT)
            .withZone(ZoneOffset.UTC);

    private static volatile OneLineHandler handler;

    private LogSetup() {}

    /**
     * Sends every record at {@code level} or above to stderr, one line each (see the class comment). Idempotent; a
     * later call changes the level.
     */
    public static synchronized void configure(LogLevel level) {
        configure(level, () -> System.err);
    }

    /** As {@link #configure(LogLevel)}, writing to the stream {@code err} returns at each record (tests). */
    static synchronized void configure(LogLevel level, Supplier<PrintStream> err) {
        if (System.getProperty("java.util.logging.config.file") != null
                || System.getProperty("java.util.logging.config.class") != null) {
            return;
        }
        Logger root = LogManager.getLogManager().getLogger("");
        if (handler == null) {
            for (Handler h : root.getHandlers()) {
                root.removeHandler(h);
            }
            handler = new OneLineHandler();
            root.addHandler(handler);
        }
        handler.err = err;
        handler.setLevel(level.jul);
        root.setLevel(level.jul);
    }

    /**
     * {@code out}, whose lines are events of {@code component} in the log's format ({@code <time> INFO  <component>:
     * <line>}): the long-running commands print what they do this way, on stdout.
     */
    public static PrintStream events(PrintStream out, String component) {
        return new PrintStream(out, true) {
            @Override
            public void println(String line) {
                synchronized (this) {
                    super.println(prefix(Level.INFO, component) + line);
                }
            }
        };
    }

    /** {@code <time> <LEVEL> <component>: } for a line written now. */
    static String prefix(Level level, String component) {
        String name = levelName(level);
        return TIME.format(Instant.now()) + ' ' + name + " ".repeat(Math.max(1, 6 - name.length())) + component + ": ";
    }

    /** One line on stderr per record that passes. */
    static final class OneLineHandler extends Handler {
        volatile Supplier<PrintStream> err = () -> System.err;

        OneLineHandler() {
            setFormatter(new OneLineFormatter());
        }

        @Override
        public void publish(LogRecord r) {
            if (r == null) {
                return;
            }
            Level effective = echoOfReportedFailure(r) ? Level.FINE : r.getLevel();
            if (effective.intValue() < getLevel().intValue()) {
                return;
            }
            String line = ((OneLineFormatter) getFormatter()).format(r, effective, getLevel());
            PrintStream out = err.get();
            synchronized (out) {
                out.print(line);
                out.flush();
            }
        }

        @Override
        public void flush() {
            err.get().flush();
        }

        @Override
        public void close() {
            flush();
        }
    }

    /**
     * Whether {@code r} only announces a failure that reaches the command as an exception or a listener call, which
     * the command reports in its own words: the migration engines' failure record (the {@code MigrationException}'s
     * message), a failed helper command's record (the {@code CommandFailedException} carries the same), and the
     * peer's note that a migration out failed before the hand-over (the command prints it with the reason).
     */
    static boolean echoOfReportedFailure(LogRecord r) {
        String logger = r.getLoggerName();
        String message = r.getMessage();
        if (logger == null || message == null || r.getLevel() != Level.WARNING || r.getThrown() != null) {
            return false;
        }
        return switch (logger) {
            case "io.drafter.migration.source.MigrationSource",
                    "io.drafter.migration.destination.MigrationDestination" -> message.startsWith("could not migrate");
            case "io.drafter.net.CommandRunner" -> message.startsWith("command failed");
            // drafter peer prints it as "migration to … failed before the hand-over: <reason>; the VM runs here again"
            case "io.drafter.peer.Peer" -> message.startsWith("migration failed before the hand-over");
            default -> false;
        };
    }

    /** The one-line format. */
    static final class OneLineFormatter extends Formatter {
        @Override
        public String format(LogRecord r) {
            return format(r, r.getLevel(), Level.INFO);
        }

        String format(LogRecord r, Level level, Level threshold) {
            StringBuilder b = new StringBuilder(128);
            b.append(TIME.format(r.getInstant() == null ? Instant.now() : r.getInstant()))
                    .append(' ');
            String name = levelName(level);
            b.append(name).append(" ".repeat(Math.max(1, 6 - name.length())));
            b.append(component(r.getLoggerName())).append(": ");
            b.append(oneLine(formatMessage(r)));
            Throwable t = r.getThrown();
            if (t != null) {
                b.append(": ").append(oneLine(t.toString()));
            }
            b.append(System.lineSeparator());
            if (t != null && threshold.intValue() <= Level.FINE.intValue()) {
                java.io.StringWriter w = new java.io.StringWriter();
                t.printStackTrace(new java.io.PrintWriter(w));
                b.append(w);
            }
            return b.toString();
        }
    }

    /** ERROR, WARN, INFO, DEBUG or TRACE. */
    static String levelName(Level l) {
        int v = l.intValue();
        if (v >= Level.SEVERE.intValue()) {
            return "ERROR";
        }
        if (v >= Level.WARNING.intValue()) {
            return "WARN";
        }
        if (v >= Level.INFO.intValue()) {
            return "INFO";
        }
        if (v >= Level.FINE.intValue()) {
            return "DEBUG";
        }
        return "TRACE";
    }

    /** The last part of a logger name ({@code io.drafter.peer.Peer} is {@code Peer}). */
    static String component(String logger) {
        if (logger == null || logger.isEmpty()) {
            return "drafter";
        }
        return logger.substring(logger.lastIndexOf('.') + 1);
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.strip().replace("\r", "").replace('\n', ' ');
    }
}
