package io.drafter.cli;

import static io.drafter.cli.CliRun.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class SnapshotterCommandTest {
    @Test
    void badDevicesJsonIsOneLineAndNonZero() {
        String[] r = run("snapshotter", "--netns", "", "--devices", "[{\"name\":");
        assertEquals("1", r[0]);
        assertTrue(r[1].startsWith("drafter: could not parse --devices JSON"), r[1]);
        assertEquals(1, r[1].strip().lines().count(), r[1]);
    }

    @Test
    void missingNamespaceIsNamed() {
        String[] r = run("snapshotter", "-netns", "no-such-ns-xyz", "--devices", "[]");
        assertEquals("1", r[0]);
        assertTrue(r[1].contains("could not use --netns no-such-ns-xyz"), r[1]);
    }

    @Test
    void missingKernelInputIsNamed() {
        String[] r = run(
                "snapshotter",
                "--netns",
                "",
                "--cpu-template",
                "T2A",
                "--uid",
                "0",
                "--io-engine-sync",
                "--devices",
                "[{\"name\":\"kernel\",\"input\":\"/nonexistent/vmlinux\",\"output\":\"/tmp/x\"},"
                        + "{\"name\":\"disk\",\"input\":\"/nonexistent/rootfs.ext4\",\"output\":\"/tmp/y\"}]");
        assertEquals("1", r[0]);
        assertTrue(r[1].contains("input of device kernel (/nonexistent/vmlinux) does not exist"), r[1]);
    }

    @Test
    void flagsThatReachQemuAreCheckedAndNamed() {
        String[][] cases = {
            {"--mac", "02:00:00:00:00:01,romfile=/etc/shadow", "--mac \"02:00:00:00:00:01,romfile=/etc/shadow\" is not"
            },
            {"--interface", "tap0,script=/x", "--interface \"tap0,script=/x\" is not an interface name"},
            {"--netns", "../../proc/1/ns/net", "--netns \"../../proc/1/ns/net\" is not a namespace name"},
            {"--memory-size", "8", "--memory-size 8 is out of range"},
            {"--cpu-count", "0", "--cpu-count 0 is out of range"},
            {"--boot-args", "quiet\n-device x", "--boot-args \"quiet\\u000a-device x\" holds a control"},
            {"--cpu-template", "T2;rm", "--cpu-template \"T2;rm\" is not a CPU template name"},
        };
        for (String[] c : cases) {
            String[] r = run("snapshotter", c[0], c[1], "--devices", "[]");
            assertEquals("1", r[0], r[1]);
            assertTrue(r[1].startsWith("drafter: could not snapshot: " + c[2]), r[1]);
            assertEquals(1, r[1].strip().lines().count(), r[1]);
        }
    }

    @Test
    void goDurations() {
        assertEquals(Duration.ofMinutes(1), GoDuration.parse("1m"));
        assertEquals(Duration.ofMillis(500), GoDuration.parse("500ms"));
        assertEquals(Duration.ofSeconds(90), GoDuration.parse("1m30s"));
        assertEquals(Duration.ofMillis(1500), GoDuration.parse("1.5s"));
        assertEquals(Duration.ZERO, GoDuration.parse("0"));
        assertThrows(CommandLine.TypeConversionException.class, () -> GoDuration.parse("10"));
        assertThrows(CommandLine.TypeConversionException.class, () -> GoDuration.parse("1m junk"));
        String[] r = run("snapshotter", "--resume-timeout", "soon");
        assertEquals("2", r[0]);
        assertTrue(r[1].contains("'soon' is not a duration"), r[1]);
    }
}
