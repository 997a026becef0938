package io.drafter.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code drafter status}: what runs on this host, from the status records that the long-running commands keep (see
 * {@link StatusRecord}): peers with their VM, namespace, listeners, migrations in flight, forwards and mounts; runners,
 * NATs and forwarders.
 */
@Command(
        name = "status",
        description = {
            "List the drafter commands that run on this host (peers, runners, NATs, forwarders): VM state, namespace,"
                    + " memory, listeners, migrations in flight and their phase, forwards, mounts.",
            "Read from the records the running commands keep in $DRAFTER_STATUS_DIR, else /run/drafter."
        })
public final class StatusCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** Shown in the headline of a record, not below it. */
    private static final Set<String> HEADLINE = Set.of("command", "pid", "started", "state");

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(
            names = {"--json", "-json"},
            description = "Print the records as a JSON array.")
    boolean json;

    @Option(
            names = {"--dir", "-dir"},
            paramLabel = "DIR",
            description = "Directory of the status records (default: $DRAFTER_STATUS_DIR, else /run/drafter).")
    Path dir;

    @Override
    public Integer call() throws Exception {
        Path from = dir != null ? dir : StatusRecord.dir();
        // A directory not there yet holds no record (nothing ran since boot); a file there is a mistyped path.
        if (Files.exists(from) && !Files.isDirectory(from)) {
            throw new IllegalArgumentException("could not read the status records in " + from + ": not a directory");
        }
        List<Map<String, Object>> records = StatusRecord.readAll(from);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(JSON.writeValueAsString(records));
        } else if (records.isEmpty()) {
            out.println("no drafter command runs on this host (no live records in " + from + ")");
        } else {
            for (Map<String, Object> r : records) {
                print(out, r);
            }
        }
        out.flush();
        return 0;
    }

    /** One record: a headline, then one line per field. */
    static void print(PrintWriter out, Map<String, Object> r) {
        out.println(r.get("command") + "  pid " + r.get("pid") + "  "
                + (r.get("state") == null ? "" : r.get("state") + "  ")
                + (r.get("started") == null ? "" : "since " + r.get("started")));
        for (Map.Entry<String, Object> e : r.entrySet()) {
            if (HEADLINE.contains(e.getKey()) || empty(e.getValue())) {
                continue;
            }
            out.println("  " + String.format("%-11s", e.getKey()) + text(e.getValue()));
        }
    }

    private static boolean empty(Object v) {
        return v == null
                || (v instanceof Collection<?> c && c.isEmpty())
                || (v instanceof Map<?, ?> m && m.isEmpty())
                || (v instanceof String s && s.isEmpty());
    }

    /** A value on one line: maps as {@code key value, …}, lists joined by {@code ; }. */
    static String text(Object v) {
        if (v instanceof Map<?, ?> m) {
            StringBuilder b = new StringBuilder();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (empty(e.getValue())) {
                    continue;
                }
                b.append(b.isEmpty() ? "" : ", ").append(e.getKey()).append(' ').append(text(e.getValue()));
            }
            return b.toString();
        }
        if (v instanceof Collection<?> c) {
            return String.join("; ", c.stream().map(StatusCommand::text).toList());
        }
        return String.valueOf(v);
    }
}
