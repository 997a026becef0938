package io.drafter.base;

import java.math.BigInteger;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Go's duration syntax, parsed exactly as Go's {@code time.ParseDuration} does, which is what Drafter's flags and
 * configuration files accept: an optional sign, then one or more decimal numbers each with a unit ({@code ns}, {@code
 * us}, {@code µs}, {@code μs}, {@code ms}, {@code s}, {@code m}, {@code h}), such as {@code 300ms}, {@code -1.5h} or
 * {@code 2h45m}. {@code 0} needs no unit; any other number does ({@code "100"} is an error, as in Go). The result is
 * at most {@code 2^63-1} nanoseconds, as a Go {@code time.Duration}.
 *
 * <p>Stateless and thread-safe.
 */
public final class GoDuration {
    private static final BigInteger MAX_MAGNITUDE = BigInteger.ONE.shiftLeft(63); // a negative duration may reach it
    private static final BigInteger MAX = MAX_MAGNITUDE.subtract(BigInteger.ONE);
    private static final Map<String, Long> UNITS = Map.of(
            "ns", 1L,
            "us", 1_000L,
            "µs", 1_000L, // U+00B5 micro sign
            "μs", 1_000L, // U+03BC Greek small letter mu
            "ms", 1_000_000L,
            "s", 1_000_000_000L,
            "m", 60_000_000_000L,
            "h", 3_600_000_000_000L);

    private GoDuration() {}

    /**
     * Parses {@code text} as Go does.
     *
     * @throws IllegalArgumentException with a one-line message naming the text, e.g. {@code missing unit in duration
     *     "100"}
     */
    public static Duration parse(String text) {
        String s = text;
        boolean negative = false;
        if (!s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+')) {
            negative = s.charAt(0) == '-';
            s = s.substring(1);
        }
        if (s.equals("0")) {
            return Duration.ZERO;
        }
        if (s.isEmpty()) {
            throw invalid(text);
        }
        BigInteger total = BigInteger.ZERO;
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (!(c == '.' || isDigit(c))) {
                throw invalid(text);
            }
            // [0-9]*
            int start = i;
            BigInteger whole = BigInteger.ZERO;
            while (i < s.length() && isDigit(s.charAt(i))) {
                whole = whole.multiply(BigInteger.TEN).add(BigInteger.valueOf(s.charAt(i) - '0'));
                if (whole.compareTo(MAX_MAGNITUDE) > 0) {
                    throw invalid(text);
                }
                i++;
            }
            boolean before = i > start;
            // (\.[0-9]*)?
            long fraction = 0;
            double scale = 1;
            boolean after = false;
            if (i < s.length() && s.charAt(i) == '.') {
                i++;
                int fractionStart = i;
                boolean overflow = false;
                while (i < s.length() && isDigit(s.charAt(i))) {
                    int digit = s.charAt(i) - '0';
                    i++;
                    if (overflow) {
                        continue;
                    }
                    if (fraction > (Long.MAX_VALUE - digit) / 10) {
                        overflow = true;
                        continue;
                    }
                    fraction = fraction * 10 + digit;
                    scale *= 10;
                }
                after = i > fractionStart;
            }
            if (!before && !after) {
                throw invalid(text);
            }
            // the unit: everything up to the next number
            int unitStart = i;
            while (i < s.length() && !(s.charAt(i) == '.' || isDigit(s.charAt(i)))) {
                i++;
            }
            if (i == unitStart) {
                throw new IllegalArgumentException("missing unit in duration \"" + text + "\"");
            }
            String unitText = s.substring(unitStart, i);
            Long unit = UNITS.get(unitText);
            if (unit == null) {
                throw new IllegalArgumentException("unknown unit \"" + unitText + "\" in duration \"" + text + "\"");
            }
            BigInteger v = whole.multiply(BigInteger.valueOf(unit));
            if (v.compareTo(MAX_MAGNITUDE) > 0) {
                throw invalid(text);
            }
            if (fraction > 0) {
                // as Go: float64 keeps a fraction of an hour nanosecond-accurate
                v = v.add(BigInteger.valueOf((long) (fraction * (unit / scale))));
                if (v.compareTo(MAX_MAGNITUDE) > 0) {
                    throw invalid(text);
                }
            }
            total = total.add(v);
            if (total.compareTo(MAX_MAGNITUDE) > 0) {
                throw invalid(text);
            }
        }
        if (negative) {
            return Duration.ofNanos(total.negate().longValueExact());
        }
        if (total.compareTo(MAX) > 0) {
            throw invalid(text);
        }
        return Duration.ofNanos(total.longValueExact());
    }

    /** {@link #parse} without the reason: empty when {@code text} is not a Go duration. */
    public static Optional<Duration> tryParse(String text) {
        try {
            return Optional.of(parse(text));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static IllegalArgumentException invalid(String text) {
        return new IllegalArgumentException("invalid duration \"" + text + "\"");
    }
}
