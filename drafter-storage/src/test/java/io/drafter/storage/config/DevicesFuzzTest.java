package io.drafter.storage.config;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.drafter.fuzz.FuzzRun;
import io.drafter.fuzz.FuzzTarget;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Fuzz target of the {@code --devices} JSON ({@link DeviceConfigParser#parse}, for each use): a list parses, or is
 * refused with a {@link DeviceConfigException} of one line, never another {@link IllegalArgumentException} (a
 * {@code NumberFormatException}, an {@code InvalidPathException}) that would not name the device and the field.
 */
class DevicesFuzzTest {
    static final List<String> DICTIONARY = List.of(
            "\"name\"",
            "\"base\"",
            "\"overlay\"",
            "\"state\"",
            "\"blockSize\"",
            "\"expiry\"",
            "\"maxDirtyBlocks\"",
            "\"minCycles\"",
            "\"maxCycles\"",
            "\"cycleThrottle\"",
            "\"makeMigratable\"",
            "\"shared\"",
            "\"sharedbase\"",
            "\"input\"",
            "\"output\"",
            "\"path\"",
            "\"s3sync\"",
            "\"s3concurrency\"",
            "true",
            "null",
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"",
            "\\u0000",
            "ms",
            "µs",
            "h",
            "1.5",
            "-0",
            "1e3");

    static final FuzzTarget DEVICES = new FuzzTarget(
            "devices", DevicesFuzzTest::parseAll, FuzzTarget.oneLine(DeviceConfigException.class), 16 << 20);

    static void parseAll(byte[] json) {
        String text = new String(json, StandardCharsets.UTF_8);
        DeviceConfigException refused = null;
        for (DeviceConfigParser.Use use : DeviceConfigParser.Use.values()) {
            try {
                DeviceConfigParser.parse(text, use);
            } catch (DeviceConfigException e) {
                refused = e;
            }
        }
        if (refused != null) {
            throw refused;
        }
    }

    @FuzzTest
    void parse(byte[] json) {
        DEVICES.run(json);
    }

    @Test
    void parseShortRun() {
        System.out.println(FuzzRun.run(
                DEVICES,
                FuzzRun.corpus(DevicesFuzzTest.class, "parse"),
                DICTIONARY,
                FuzzRun.seed(),
                10_000,
                Duration.ofSeconds(5)));
    }
}
