package io.drafter.cli;

import java.time.Duration;
import picocli.CommandLine;

/**
 * The picocli converter for Drafter's duration flags ({@code 1m}, {@code 500ms}, {@code 1h2m3.5s}): Go's syntax, parsed
 * by {@link io.drafter.base.GoDuration}.
 */
public final class GoDuration implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
        return parse(value);
    }

    /**
     * Parses {@code value} with Go's rules ({@link io.drafter.base.GoDuration}); a flag's duration is never negative.
     * Throws {@link CommandLine.TypeConversionException} naming it when malformed.
     */
    public static Duration parse(String value) {
        return io.drafter.base.GoDuration.tryParse(value)
                .filter(d -> !d.isNegative())
                .orElseThrow(() -> new CommandLine.TypeConversionException(
                        "'" + value + "' is not a duration (examples: 1m, 500ms, 1m30s)"));
    }
}
