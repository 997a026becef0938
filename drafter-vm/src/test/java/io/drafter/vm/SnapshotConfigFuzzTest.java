package io.drafter.vm;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.drafter.fuzz.FuzzCrash;
import io.drafter.fuzz.FuzzRun;
import io.drafter.fuzz.FuzzTarget;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Fuzz target of a package's {@code config.json} ({@link SnapshotConfig#read}): it reads as a valid config, or is
 * refused with a {@link VmException} of one line. A config that reads writes and reads back equal.
 */
class SnapshotConfigFuzzTest {
    static final List<String> DICTIONARY = List.of(
            "\"version\"",
            "\"agentChannel\"",
            "\"memorySizeMiB\"",
            "\"vcpus\"",
            "\"accel\"",
            "\"machine\"",
            "\"bootArgs\"",
            "\"hasInitrd\"",
            "\"drives\"",
            "\"tapInterface\"",
            "\"mac\"",
            "\"cpuTemplate\"",
            "\"qemuVersion\"",
            "\"kvm\"",
            "\"pc-q35-10.1\"",
            ",romfile=",
            "\\n",
            "\\u0000",
            "null",
            "true",
            "[",
            "]",
            "{",
            "}",
            "\0");

    private static final Path DIR = temporaryDirectory();

    static final FuzzTarget READ = new FuzzTarget(
            "config-json", SnapshotConfigFuzzTest::readConfig, FuzzTarget.oneLine(VmException.class), 16 << 20);

    static void readConfig(byte[] json) throws IOException {
        Path file = DIR.resolve("config.json");
        Files.write(file, json);
        SnapshotConfig c = SnapshotConfig.read(file);
        Path again = DIR.resolve("again.json");
        c.write(again);
        if (!SnapshotConfig.read(again).equals(c)) {
            throw new FuzzCrash("config-json: " + c + " does not read back equal");
        }
    }

    private static Path temporaryDirectory() {
        try {
            Path dir = Files.createTempDirectory("config-fuzz");
            dir.toFile().deleteOnExit();
            dir.resolve("config.json").toFile().deleteOnExit();
            dir.resolve("again.json").toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest
    void read(byte[] json) {
        READ.run(json);
    }

    @Test
    void readShortRun() {
        System.out.println(FuzzRun.run(
                READ,
                FuzzRun.corpus(SnapshotConfigFuzzTest.class, "read"),
                DICTIONARY,
                FuzzRun.seed(),
                2_000,
                Duration.ofSeconds(5)));
    }
}
