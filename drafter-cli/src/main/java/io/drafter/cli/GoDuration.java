package io.drafter.cli;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/** Parses Go's duration syntax ({@code 1m}, {@code 500ms}, {@code 1h2m3.5s}) as Drafter's flags use it. */
public final class GoDuration implements CommandLine.ITypeConverter<Duration> {
    private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)");

    @Override
    public Duration convert(String value) {
        return parse(value);
    }

    /** Parses {@code value}; throws {@link CommandLine.TypeConversionException} naming it when malformed. */
    public static Duration parse(String value) {
        if (value.equals("0")) {
            return Duration.ZERO;
        }
        Matcher m = PART.matcher(value);
        long nanos = 0;
        int end = 0;
        while (m.find() && m.start() == end) {
            double n = Double.parseDouble(m.group(1));
            long unit = switch (m.group(2)) {
                case "ns" -> 1L;
                case "us", "µs" -> 1_000L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                default -> 3_600_000_000_000L;
            };
            nanos += Math.round(n * unit);
            end = m.end();
        }
        if (end == 0 || end != value.length()) {
            throw new CommandLine.TypeConversionException(
                    "'" + value + "' is not a duration (examples: 1m, 500ms, 1m30s)");
        }
        return Duration.ofNanos(nanos);
    }
}
