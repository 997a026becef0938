package io.drafter.storage.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeType;
import io.drafter.base.GoDuration;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Parses Drafter's {@code --devices} JSON strictly: unknown fields, wrong types, bad values, duplicate names and
 * fields a command needs but lacks are errors that name the device and the field, e.g. {@code device "memory":
 * blockSize must be a power of two, got 1000}. Parsing touches no file.
 *
 * <p><b>Note:</b> stateless and thread-safe.
 */
public final class DeviceConfigParser {
    private static final HexFormat HEX = HexFormat.of();
    /** What the device list is for; decides which fields are required. */
    public enum Use {
        /** {@code drafter peer}: needs {@code base}. */
        PEER,
        /** {@code drafter snapshotter}: needs {@code output}. */
        SNAPSHOTTER,
        /** {@code drafter packager}: needs {@code path}. */
        PACKAGER,
        /** {@code drafter registry}: needs {@code input}. */
        REGISTRY
    }

    /** The largest block size accepted: blocks are sent as single frames. */
    public static final int MAX_BLOCK_SIZE_BYTES = 16 << 20;
    /** The longest device list accepted, in characters: Drafter's six devices take about 2 KiB. */
    public static final int MAX_JSON_CHARS = 1 << 20;
    /** The most devices in one list: a VM has a handful. */
    public static final int MAX_DEVICES = 256;

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Set<String> KNOWN = Set.of(
            "name",
            "base",
            "overlay",
            "state",
            "blockSize",
            "expiry",
            "maxDirtyBlocks",
            "minCycles",
            "maxCycles",
            "cycleThrottle",
            "makeMigratable",
            "shared",
            "sharedbase",
            "input",
            "output",
            "path",
            "skipsilo",
            "usesparsefile",
            "anyorder",
            "s3sync",
            "s3accesskey",
            "s3secretkey",
            "s3endpoint",
            "s3secure",
            "s3bucket",
            "s3concurrency");

    private static final ObjectMapper JSON = new ObjectMapper();

    private DeviceConfigParser() {}

    /** Parses {@code json} for {@code use}. */
    public static List<DeviceConfig> parse(String json, Use use) {
        if (json.length() > MAX_JSON_CHARS) {
            throw new DeviceConfigException("devices: " + json.length() + " characters of JSON, more than the limit of "
                    + MAX_JSON_CHARS + " (1 MiB)");
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new DeviceConfigException("devices: not valid JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null
                            ? ""
                            : " at column " + e.getLocation().getColumnNr()));
        }
        if (root == null || !root.isArray()) {
            throw new DeviceConfigException(
                    "devices: expected a JSON array of device objects, got " + (root == null ? "nothing" : kind(root)));
        }
        if (root.size() > MAX_DEVICES) {
            throw new DeviceConfigException(
                    "devices: " + root.size() + " devices, more than the limit of " + MAX_DEVICES);
        }
        List<DeviceConfig> out = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < root.size(); i++) {
            DeviceConfig d = parseOne(root.get(i), i, use);
            if (!names.add(d.name())) {
                throw new DeviceConfigException("device \"" + d.name() + "\": name appears more than once");
            }
            out.add(d);
        }
        return List.copyOf(out);
    }

    private static DeviceConfig parseOne(JsonNode node, int index, Use use) {
        if (!node.isObject()) {
            throw new DeviceConfigException("devices[" + index + "]: expected an object, got " + kind(node));
        }
        JsonNode nameNode = node.get("name");
        if (nameNode == null || !nameNode.isTextual() || nameNode.asText().isEmpty()) {
            throw new DeviceConfigException("devices[" + index + "]: name is required (a non-empty string)");
        }
        String name = nameNode.asText();
        Fields f = new Fields(name, node);
        if (!NAME.matcher(name).matches()) {
            throw f.error(
                    "name",
                    "must be 1-64 letters, digits, '.', '_' or '-' and not start with a symbol, got " + quote(name));
        }
        node.fieldNames().forEachRemaining(field -> {
            if (!KNOWN.contains(field)) {
                throw f.error(field, "is not a known field");
            }
        });
        if (f.bool("s3sync", false)) {
            throw f.error("s3sync", "S3-assisted migration is not supported by this build");
        }
        f.string("s3accesskey");
        f.string("s3secretkey");
        f.string("s3endpoint");
        f.string("s3bucket");
        f.bool("s3secure", false);
        f.integer("s3concurrency", 0, 0, Integer.MAX_VALUE);
        f.bool("skipsilo", false);
        f.bool("usesparsefile", false);
        f.bool("anyorder", false);

        List<Path> overlays = f.pathList("overlay");
        List<Path> states = f.pathList("state");
        if (overlays.size() != states.size()) {
            throw f.error(
                    "state",
                    "needs one state file per overlay, got " + overlays.size() + " overlay(s) and " + states.size()
                            + " state file(s)");
        }
        long bs = f.integer("blockSize", DeviceConfig.DEFAULT_BLOCK_SIZE_BYTES, 1, Long.MAX_VALUE);
        if (Long.bitCount(bs) != 1) {
            throw f.error("blockSize", "must be a power of two, got " + bs);
        }
        if (bs < 512 || bs > MAX_BLOCK_SIZE_BYTES) {
            throw f.error("blockSize", "must be between 512 and " + MAX_BLOCK_SIZE_BYTES + ", got " + bs);
        }
        DeviceConfig d = new DeviceConfig(
                name,
                f.path("base"),
                overlays,
                states,
                (int) bs,
                f.duration("expiry", DeviceConfig.DEFAULT_EXPIRY),
                f.integer("maxDirtyBlocks", DeviceConfig.DEFAULT_MAX_DIRTY_BLOCKS, 0, Long.MAX_VALUE),
                (int) f.integer("minCycles", DeviceConfig.DEFAULT_MIN_CYCLES, 0, Integer.MAX_VALUE),
                (int) f.integer("maxCycles", DeviceConfig.DEFAULT_MAX_CYCLES, 0, Integer.MAX_VALUE),
                f.duration("cycleThrottle", DeviceConfig.DEFAULT_CYCLE_THROTTLE),
                f.bool("makeMigratable", true),
                f.bool("shared", false),
                f.bool("sharedbase", false),
                f.path("input"),
                f.path("output"),
                f.path("path"));
        switch (use) {
            case PEER -> {
                if (d.base().isEmpty()) {
                    throw f.error("base", "is required");
                }
                if (d.shared() && d.copyOnWrite()) {
                    throw f.error("overlay", "cannot be combined with shared: a shared base is never copied");
                }
            }
            case SNAPSHOTTER -> {
                if (d.output().isEmpty()) {
                    throw f.error("output", "is required");
                }
            }
            case PACKAGER -> {
                if (d.path().isEmpty()) {
                    throw f.error("path", "is required");
                }
            }
            case REGISTRY -> {
                if (d.input().isEmpty()) {
                    throw f.error("input", "is required");
                }
            }
        }
        return d;
    }

    /**
     * Parses a duration field's text: integer nanoseconds (a Go {@code time.Duration}'s JSON form, here also when
     * quoted) or Go's duration syntax ({@link GoDuration}: "500ms", "1m30s"); empty on a malformed or negative value.
     */
    public static Optional<Duration> parseDuration(String text) {
        String s = text.strip();
        if (s.matches("\\d+")) {
            try {
                return Optional.of(Duration.ofNanos(Long.parseLong(s)));
            } catch (NumberFormatException e) {
                return Optional.empty(); // more nanoseconds than a long holds
            }
        }
        return GoDuration.tryParse(s).filter(d -> !d.isNegative());
    }

    /** {@code s} in double quotes, on one line: control characters of the JSON's strings are escaped. */
    private static String quote(String s) {
        return "\"" + escape(s) + "\"";
    }

    private static String escape(String s) {
        StringBuilder out = new StringBuilder(s.length());
        s.codePoints().forEach(c -> {
            if (c == '"' || c == '\\') {
                out.append('\\').appendCodePoint(c);
            } else if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT) {
                // no Formatter per character: an error about a hostile name stays cheap
                out.append(c <= 0xFFFF ? "\\u" + HEX.toHexDigits((char) c) : "\\U" + HEX.toHexDigits(c));
            } else {
                out.appendCodePoint(c);
            }
        });
        return out.toString();
    }

    private static String kind(JsonNode n) {
        JsonNodeType t = n.getNodeType();
        return switch (t) {
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case NULL -> "null";
            default -> t.name().toLowerCase();
        };
    }

    /** Typed access to one device object's fields, with errors that name the device and the field. */
    private record Fields(String device, JsonNode node) {
        DeviceConfigException error(String field, String what) {
            return new DeviceConfigException("device " + quote(device) + ": " + escape(field) + " " + what);
        }

        Optional<String> string(String field) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                return Optional.empty();
            }
            if (!v.isTextual()) {
                throw error(field, "must be a string, got " + kind(v));
            }
            return Optional.of(v.asText());
        }

        Optional<Path> path(String field) {
            return string(field).filter(s -> !s.isBlank()).map(s -> {
                if (s.indexOf('\0') >= 0) {
                    throw error(field, "must not contain a NUL character");
                }
                return Path.of(s);
            });
        }

        List<Path> pathList(String field) {
            return string(field)
                    .map(s -> {
                        if (s.indexOf('\0') >= 0) {
                            throw error(field, "must not contain a NUL character");
                        }
                        return Arrays.stream(s.trim().split("\\s+"))
                                .filter(p -> !p.isEmpty())
                                .map(Path::of)
                                .toList();
                    })
                    .orElse(List.of());
        }

        boolean bool(String field, boolean dflt) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                return dflt;
            }
            if (!v.isBoolean()) {
                throw error(field, "must be true or false, got " + kind(v));
            }
            return v.asBoolean();
        }

        long integer(String field, long dflt, long min, long max) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                return dflt;
            }
            if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                throw error(field, "must be a whole number, got " + (v.isNumber() ? v.asText() : kind(v)));
            }
            long x = v.asLong();
            if (x < min || x > max) {
                throw error(field, "must be between " + min + " and " + max + ", got " + x);
            }
            return x;
        }

        Duration duration(String field, Duration dflt) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                return dflt;
            }
            if (v.isIntegralNumber() && v.canConvertToLong()) {
                if (v.asLong() < 0) {
                    throw error(field, "must not be negative, got " + v.asLong());
                }
                return Duration.ofNanos(v.asLong());
            }
            if (v.isTextual()) {
                return parseDuration(v.asText())
                        .orElseThrow(() -> error(
                                field, "must be nanoseconds or a duration like \"500ms\", got " + quote(v.asText())));
            }
            throw error(field, "must be nanoseconds or a duration like \"500ms\", got " + kind(v));
        }
    }
}
