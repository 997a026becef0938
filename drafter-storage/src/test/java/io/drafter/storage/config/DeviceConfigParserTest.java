package io.drafter.storage.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.drafter.storage.config.DeviceConfigParser.Use;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DeviceConfigParserTest {
    @Test
    void fillsDraftersDefaults() {
        DeviceConfig d = DeviceConfigParser.parse(
                        "[{\"name\":\"memory\",\"base\":\"out/package/memory.bin\"}]", Use.PEER)
                .getFirst();
        assertEquals(Optional.of(Path.of("out/package/memory.bin")), d.base());
        assertEquals(65536, d.blockSizeBytes());
        assertEquals(Duration.ofSeconds(1), d.expiry());
        assertEquals(200, d.maxDirtyBlocks());
        assertEquals(5, d.minCycles());
        assertEquals(20, d.maxCycles());
        assertEquals(Duration.ofMillis(500), d.cycleThrottle());
        assertTrue(d.makeMigratable());
        assertTrue(d.migrated());
        assertTrue(!d.copyOnWrite());
        assertEquals(Path.of("out/package/memory.bin"), d.writtenFile());
    }

    @Test
    void readsTheSeedTutorialsPeerDevices() {
        String json = """
                [{"name":"state","base":"out/package/state.bin","overlay":"out/overlay/state.bin",
                  "state":"out/state/state.bin","blockSize":65536,"expiry":1000000000,"maxDirtyBlocks":200,
                  "minCycles":5,"maxCycles":20,"cycleThrottle":500000000,"makeMigratable":true,"shared":false},
                 {"name":"memory","base":"out/package/memory.bin","overlay":"a.o b.o","state":"a.s b.s",
                  "cycleThrottle":"100ms","blockSize":1048576}]""";
        List<DeviceConfig> ds = DeviceConfigParser.parse(json, Use.PEER);
        assertEquals(2, ds.size());
        assertEquals(List.of(Path.of("a.o"), Path.of("b.o")), ds.get(1).overlays());
        assertEquals(Duration.ofMillis(100), ds.get(1).cycleThrottle());
        assertEquals(1048576, ds.get(1).blockSizeBytes());
        assertEquals(Path.of("out/overlay/state.bin"), ds.get(0).writtenFile());
        assertEquals(Path.of("b.o"), ds.get(1).writtenFile());
    }

    @Test
    void snapshotterAndPackagerNeedTheirOwnFields() {
        assertEquals(
                Optional.of(Path.of("o")),
                DeviceConfigParser.parse("[{\"name\":\"kernel\",\"input\":\"i\",\"output\":\"o\"}]", Use.SNAPSHOTTER)
                        .getFirst()
                        .output());
        assertEquals(
                "device \"kernel\": path is required",
                assertThrows(
                                DeviceConfigException.class,
                                () -> DeviceConfigParser.parse(
                                        "[{\"name\":\"kernel\",\"output\":\"o\"}]", Use.PACKAGER))
                        .getMessage());
    }

    @Test
    @Timeout(30)
    void longOrCrowdedListsAreRefusedWithTheLimit() {
        String padded = "[" + " ".repeat(DeviceConfigParser.MAX_JSON_CHARS) + "]";
        assertEquals(
                "devices: 1048578 characters of JSON, more than the limit of 1048576 (1 MiB)",
                assertThrows(DeviceConfigException.class, () -> DeviceConfigParser.parse(padded, Use.PEER))
                        .getMessage());
        StringBuilder many = new StringBuilder("[");
        for (int i = 0; i <= DeviceConfigParser.MAX_DEVICES; i++) {
            many.append(i == 0 ? "" : ",").append("{\"name\":\"d").append(i).append("\",\"base\":\"b\"}");
        }
        String crowded = many.append("]").toString();
        assertEquals(
                "devices: 257 devices, more than the limit of 256",
                assertThrows(DeviceConfigException.class, () -> DeviceConfigParser.parse(crowded, Use.PEER))
                        .getMessage());
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        assertTrue(assertThrows(DeviceConfigException.class, () -> DeviceConfigParser.parse(deep, Use.PEER))
                .getMessage()
                .startsWith("devices: not valid JSON: Document nesting depth"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            not json                                              | devices: not valid JSON
            {"name":"x"}                                          | devices: expected a JSON array of device objects, got an object
            [1]                                                   | devices[0]: expected an object, got a number
            [{}]                                                  | devices[0]: name is required
            [{"name":""}]                                         | devices[0]: name is required
            [{"name":"../etc","base":"b"}]                        | device "../etc": name must be
            [{"name":"m","base":"b","blockSize":1000}]            | device "m": blockSize must be a power of two, got 1000
            [{"name":"m","base":"b","blockSize":"big"}]           | device "m": blockSize must be a whole number, got a string
            [{"name":"m","base":"b","blockSize":256}]             | device "m": blockSize must be between 512
            [{"name":"m","base":"b","minCycles":-1}]              | device "m": minCycles must be between 0
            [{"name":"m","base":"b","maxCycles":1.5}]             | device "m": maxCycles must be a whole number, got 1.5
            [{"name":"m","base":"b","cycleThrottle":"soon"}]      | device "m": cycleThrottle must be nanoseconds or a duration like "500ms", got "soon"
            [{"name":"m","base":"b","expiry":-5}]                 | device "m": expiry must not be negative
            [{"name":"m","base":"b","shared":"yes"}]              | device "m": shared must be true or false, got a string
            [{"name":"m","base":"b","colour":"red"}]              | device "m": colour is not a known field
            [{"name":"m","base":"b","overlay":"o"}]               | device "m": state needs one state file per overlay
            [{"name":"m","base":"b","s3sync":true}]               | device "m": s3sync S3-assisted migration is not supported
            [{"name":"m"}]                                        | device "m": base is required
            [{"name":"m","base":7}]                               | device "m": base must be a string, got a number
            [{"name":"m","base":"b"},{"name":"m","base":"c"}]     | device "m": name appears more than once
            [{"name":"m","base":"b","shared":true,"overlay":"o","state":"s"}] | device "m": overlay cannot be combined with shared
            """)
    void everyBadFieldIsOneClearError(String json, String expectedStart) {
        DeviceConfigException e =
                assertThrows(DeviceConfigException.class, () -> DeviceConfigParser.parse(json, Use.PEER));
        assertTrue(e.getMessage().startsWith(expectedStart.strip()), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void parsesGoDurations() {
        assertEquals(Optional.of(Duration.ofSeconds(90)), DeviceConfigParser.parseDuration("1m30s"));
        assertEquals(Optional.of(Duration.ofMillis(1500)), DeviceConfigParser.parseDuration("1.5s"));
        assertEquals(Optional.of(Duration.ofNanos(7)), DeviceConfigParser.parseDuration("7"));
        assertEquals(Optional.empty(), DeviceConfigParser.parseDuration("1x"));
    }

    // Found by DevicesFuzzTest (Jazzer, scripts/fuzz.sh devices) and while writing its oracle; the inputs are in its
    // corpus too.

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            [{"name":"m\\n","base":"b"}]                           | device "m\\u000a": name must be 1-64 letters
            [{"name":"m","base":"b","st\\r\\n":1}]                   | device "m": st\\u000d\\u000a is not a known field
            [{"name":"m","base":"b","expiry":"1s\\u0007"}]              | device "m": expiry must be nanoseconds or a duration like "500ms", got "1s\\u0007"
            """)
    void controlCharactersOfTheJsonAreEscapedInTheOneLineError(String json, String expectedStart) {
        DeviceConfigException e =
                assertThrows(DeviceConfigException.class, () -> DeviceConfigParser.parse(json, Use.PEER));
        assertTrue(e.getMessage().startsWith(expectedStart.strip()), e.getMessage());
        assertTrue(!e.getMessage().contains("\n") && !e.getMessage().contains("\r"), "one line: " + e.getMessage());
    }

    @Test
    void aDurationOfMoreNanosecondsThanALongHoldsIsAFieldError() {
        assertEquals(Optional.empty(), DeviceConfigParser.parseDuration("99999999999999999999"));
        DeviceConfigException e = assertThrows(
                DeviceConfigException.class,
                () -> DeviceConfigParser.parse(
                        "[{\"name\":\"m\",\"base\":\"b\",\"expiry\":\"99999999999999999999\"}]", Use.PEER));
        assertTrue(e.getMessage().startsWith("device \"m\": expiry must be nanoseconds"), e.getMessage());
    }

    @Test
    void aNulInAnOverlayOrStateListIsAFieldError() {
        DeviceConfigException e = assertThrows(
                DeviceConfigException.class,
                () -> DeviceConfigParser.parse(
                        "[{\"name\":\"m\",\"base\":\"b\",\"overlay\":\"a\\u0000b\",\"state\":\"s\"}]", Use.PEER));
        assertEquals("device \"m\": overlay must not contain a NUL character", e.getMessage());
    }
}
