package io.drafter.pkg;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.drafter.base.DeviceRole;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One device of a package: its name (the archive entry name) and the file that holds it on this host.
 *
 * @param name device name, e.g. {@code state}, {@code memory}, {@code disk}, {@code oci}
 * @param path file of the device
 */
public record DeviceFile(String name, Path path) {
    /** Devices in one list or package: Drafter uses six, a VM has a few more disks at most. */
    public static final int MAX_DEVICES = 256;
    /** The longest {@code --devices} JSON accepted, in characters: Drafter's six devices take about 500. */
    public static final int MAX_JSON_CHARS = 1 << 20;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Validates the name (a single safe path component, as Drafter's entry names are). */
    public DeviceFile {
        Objects.requireNonNull(path, "path");
        checkName(name);
    }

    /** Drafter's default package devices ({@code KnownNames}) under {@code out/package/}. */
    public static List<DeviceFile> defaults() {
        return DeviceRole.packaged().stream()
                .map(r -> new DeviceFile(r.deviceName(), Path.of("out/package").resolve(r.fileName())))
                .toList();
    }

    /**
     * Parses Drafter's packager {@code --devices} JSON: an array of {@code {"name": …, "path": …}} objects.
     * Unknown fields are ignored (as Go's decoder does); a duplicate name is an error.
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static List<DeviceFile> parseList(String json) {
        if (json.length() > MAX_JSON_CHARS) {
            throw new IllegalArgumentException("could not parse --devices: " + json.length()
                    + " characters of JSON, more than the limit of " + MAX_JSON_CHARS + " (1 MiB)");
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(
                    "could not parse --devices: " + e.getOriginalMessage().replace('\n', ' '));
        }
        if (root == null || !root.isArray()) {
            throw new IllegalArgumentException("could not parse --devices: expected a JSON array of {name, path}");
        }
        if (root.size() > MAX_DEVICES) {
            throw new IllegalArgumentException(
                    "could not parse --devices: " + root.size() + " devices, more than the limit of " + MAX_DEVICES);
        }
        List<DeviceFile> devices = new ArrayList<>();
        for (int i = 0; i < root.size(); i++) {
            JsonNode d = root.get(i);
            String name = text(d, "name", i);
            String path = text(d, "path", i);
            try {
                devices.add(new DeviceFile(name, Path.of(path)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("could not parse --devices: device " + i + ": " + e.getMessage());
            }
        }
        checkUnique(devices);
        return List.copyOf(devices);
    }

    private static String text(JsonNode d, String field, int index) {
        JsonNode v = d == null || !d.isObject() ? null : d.get(field);
        if (v == null || !v.isTextual() || v.asText().isEmpty()) {
            throw new IllegalArgumentException(
                    "could not parse --devices: device " + index + " has no \"" + field + "\" string");
        }
        return v.asText();
    }

    /** Rejects two devices with the same name or the same file. */
    static void checkUnique(List<DeviceFile> devices) {
        Set<String> names = new HashSet<>();
        Set<Path> paths = new HashSet<>();
        for (DeviceFile d : devices) {
            if (!names.add(d.name())) {
                throw new IllegalArgumentException("duplicate device name '" + d.name() + "'");
            }
            if (!paths.add(d.path().toAbsolutePath().normalize())) {
                throw new IllegalArgumentException("two devices use the same file " + d.path());
            }
        }
    }

    /** Checks that {@code name} can be an archive entry and a file name: non-empty, no '/', not '.' or '..'. */
    static void checkName(String name) {
        if (name == null
                || name.isEmpty()
                || name.length() > 255
                || name.equals(".")
                || name.equals("..")
                || name.indexOf('/') >= 0
                || name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("invalid device name '" + name + "' (one path component expected)");
        }
    }
}
