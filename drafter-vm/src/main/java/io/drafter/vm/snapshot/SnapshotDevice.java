package io.drafter.vm.snapshot;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.drafter.base.DeviceRole;
import io.drafter.vm.VmException;
import io.drafter.vm.VmValues;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One entry of the snapshotter's {@code --devices} JSON: {@code {"name":"disk","input":"…","output":"…"}}.
 * Minimal on purpose: the full device configuration lives in the storage module.
 *
 * @param name device name: {@code state}, {@code memory}, {@code kernel}, {@code disk}, {@code config},
 *     {@code initrd}, or any extra disk such as {@code oci}
 * @param input source file copied in before boot, or {@code null}
 * @param output where the device's final file is written
 */
public record SnapshotDevice(String name, Path input, Path output) {
    /**
     * The roles the snapshotter handles itself ({@link DeviceRole}: all but {@code oci}); every other device is an
     * extra disk attached after {@code disk}.
     */
    public static final Set<String> KNOWN_NAMES = java.util.Arrays.stream(DeviceRole.values())
            .filter(r -> r != DeviceRole.OCI)
            .map(DeviceRole::deviceName)
            .collect(java.util.stream.Collectors.toUnmodifiableSet());

    /** The longest {@code --devices} JSON accepted, in characters: Drafter's six devices take about 700. */
    public static final int MAX_JSON_CHARS = 1 << 20;
    /** The most devices in one list: a VM has a handful. */
    public static final int MAX_DEVICES = 256;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Parses the JSON list; names must be unique and each entry needs a name and an output. */
    public static List<SnapshotDevice> parseList(String json) throws VmException {
        if (json.length() > MAX_JSON_CHARS) {
            throw new VmException("could not parse --devices JSON: " + json.length()
                    + " characters, more than the limit of " + MAX_JSON_CHARS + " (1 MiB)");
        }
        List<Map<String, Object>> raw;
        try {
            raw = JSON.readValue(json, new TypeReference<List<Map<String, Object>>>() {});
        } catch (IOException e) {
            throw new VmException("could not parse --devices JSON: "
                    + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
        }
        if (raw == null) {
            throw new VmException("could not parse --devices JSON: expected a list of devices, got null");
        }
        if (raw.size() > MAX_DEVICES) {
            throw new VmException("could not parse --devices JSON: " + raw.size() + " devices, more than the limit of "
                    + MAX_DEVICES);
        }
        List<SnapshotDevice> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < raw.size(); i++) {
            Map<String, Object> m = raw.get(i);
            if (m == null || !(m.get("name") instanceof String name) || name.isBlank()) {
                throw new VmException("could not parse --devices JSON: entry " + i + " has no name");
            }
            // A file name in the work directory and, for extra disks, a QEMU id: the same rule as drive names.
            if (!name.matches("[A-Za-z][A-Za-z0-9._-]{0,30}")) {
                throw new VmException("could not parse --devices JSON: device name " + VmValues.quote(name)
                        + " is not a plain word (a letter, then up to 30 of A-Z a-z 0-9 . _ -)");
            }
            if (!seen.add(name)) {
                throw new VmException("could not parse --devices JSON: device " + name + " listed twice");
            }
            Object in = m.get("input");
            Object o = m.get("output");
            if (!(o instanceof String output) || output.isBlank()) {
                throw new VmException("could not parse --devices JSON: device " + name + " has no output");
            }
            Path input = in instanceof String s && !s.isBlank() ? Path.of(s) : null;
            out.add(new SnapshotDevice(name, input, Path.of(output)));
        }
        return out;
    }
}
