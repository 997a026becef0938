package io.drafter.peer;

import io.drafter.storage.config.DeviceConfig;
import io.drafter.storage.config.DeviceConfigParser;
import java.nio.file.Path;
import java.util.List;

/** The --devices of a snapshot package made by the snapshotter (DrafterOS: with an initramfs), for tests and benches. */
public final class PackageDevices {
    /** Device name and file name in the package. */
    public static final List<List<String>> FILES = List.of(
            List.of("state", "state.bin"),
            List.of("memory", "memory.bin"),
            List.of("kernel", "vmlinux"),
            List.of("initrd", "initramfs.img"),
            List.of("disk", "rootfs.ext4"),
            List.of("config", "config.json"),
            List.of("oci", "oci.ext4"));

    private PackageDevices() {}

    /**
     * The devices with {@code base} as the package directory and, when {@code cowDir} is not null, overlays and state
     * files under it; {@code tuning} is appended to every entry (e.g. {@code "minCycles":1}).
     */
    public static List<DeviceConfig> of(Path base, Path cowDir, String tuning) {
        StringBuilder json = new StringBuilder("[");
        for (List<String> f : FILES) {
            json.append(json.length() > 1 ? "," : "")
                    .append("{\"name\":\"")
                    .append(f.get(0))
                    .append("\",\"base\":\"")
                    .append(base.resolve(f.get(1)))
                    .append('"');
            if (cowDir != null) {
                json.append(",\"overlay\":\"")
                        .append(cowDir.resolve("overlay").resolve(f.get(1)))
                        .append('"');
                json.append(",\"state\":\"")
                        .append(cowDir.resolve("state").resolve(f.get(1)))
                        .append('"');
            }
            json.append(',').append(tuning).append('}');
        }
        return DeviceConfigParser.parse(json.append(']').toString(), DeviceConfigParser.Use.PEER);
    }
}
