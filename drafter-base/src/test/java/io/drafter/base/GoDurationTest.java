package io.drafter.base;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The cases of Go's own {@code time.ParseDuration} tests ({@code src/time/time_test.go}) that Drafter relies on. */
class GoDurationTest {
    @ParameterizedTest
    @CsvSource(
            delimiter = '|',
            value = {
                "0|0",
                "5s|5000000000",
                "30s|30000000000",
                "1478s|1478000000000",
                "-5s|-5000000000",
                "+5s|5000000000",
                "-0|0",
                "+0|0",
                "5.0s|5000000000",
                "5.6s|5600000000",
                "5.s|5000000000",
                ".5s|500000000",
                "1.0s|1000000000",
                "1.00s|1000000000",
                "1.004s|1004000000",
                "1.0040s|1004000000",
                "100.00100s|100001000000",
                "10ns|10",
                "11us|11000",
                "12µs|12000",
                "12μs|12000",
                "13ms|13000000",
                "14s|14000000000",
                "15m|900000000000",
                "16h|57600000000000",
                "3h30m|12600000000000",
                "10.5s4m|250500000000",
                "-2m3.4s|-123400000000",
                "1h2m3s4ms5us6ns|3723004005006",
                "39h9m14.425s|140954425000000",
                "52763797000ns|52763797000",
                "0.3333333333333333333h|1200000000000",
                "9007199254740993ns|9007199254740993",
                "9223372036854775807ns|9223372036854775807",
                "9223372036854775.807us|9223372036854775807",
                "-9223372036854775808ns|-9223372036854775808",
                "0.100000000000000000000h|360000000000",
                "0.830103483285477580700h|2988372539827",
            })
    void parsesAsGoDoes(String text, long nanos) {
        assertEquals(Duration.ofNanos(nanos), GoDuration.parse(text));
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "",
                "3",
                "-",
                "s",
                ".",
                "-.",
                ".s",
                "+.s",
                "1d",
                "\u0085\u0085",
                "\u00ff",
                "9223372036854775808ns",
                "9223372036854775.808us",
                "9223372036854ms775us808ns",
                "-9223372036854775809ns",
                "1m junk",
                " 1s"
            })
    void rejectsWhatGoRejects(String text) {
        assertThrows(IllegalArgumentException.class, () -> GoDuration.parse(text));
        assertEquals(Optional.empty(), GoDuration.tryParse(text));
    }

    @Test
    void aNumberWithoutAUnitIsAnErrorThatSaysSo() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GoDuration.parse("100"));
        assertEquals("missing unit in duration \"100\"", e.getMessage());
        assertEquals(
                "unknown unit \"d\" in duration \"1d\"",
                assertThrows(IllegalArgumentException.class, () -> GoDuration.parse("1d"))
                        .getMessage());
        assertEquals(
                "invalid duration \"\"",
                assertThrows(IllegalArgumentException.class, () -> GoDuration.parse(""))
                        .getMessage());
    }
}
