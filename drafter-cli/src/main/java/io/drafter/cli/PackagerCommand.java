package io.drafter.cli;

import io.drafter.pkg.DeviceFile;
import io.drafter.pkg.Packager;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code drafter packager}: Drafter's {@code drafter-packager}, same flags (Go style {@code -flag} accepted) and
 * the same {@code --devices} JSON. Packs devices into a {@code .tar.zst} package, or extracts them with
 * {@code --extract}.
 */
@Command(
        name = "packager",
        description = "Archive devices into a package (.tar.zst, one entry per device name) or extract them.")
public final class PackagerCommand implements Callable<Integer> {
    @Option(
            names = {"--devices", "-devices"},
            paramLabel = "JSON",
            description = "Devices: JSON array of {\"name\":…,\"path\":…} (default: Drafter's kernel, disk, state,"
                    + " memory, config under out/package/).")
    String devices;

    @Option(
            names = {"--package-path", "-package-path"},
            paramLabel = "FILE",
            defaultValue = "out/app.tar.zst",
            description = "Package archive.")
    Path packagePath;

    @Option(
            names = {"--extract", "-extract"},
            arity = "0..1",
            fallbackValue = "true",
            description = "Extract the listed devices from the package instead of archiving them.")
    boolean extract;

    @Option(
            names = {"--compression-level", "-compression-level"},
            defaultValue = "3",
            description = "zstd level 1..19 when packing.")
    int level;

    @Option(
            names = {"--workers", "-workers"},
            defaultValue = "1",
            description = "zstd compression threads when packing; 0 = on the reading thread.")
    int workers;

    @Mixin
    ProgressOption progress = new ProgressOption();

    @Override
    public Integer call() throws Exception {
        List<DeviceFile> list = devices == null ? DeviceFile.defaults() : DeviceFile.parseList(devices);
        Packager.Options options = new Packager.Options(level, workers, progress.bar(extract ? "extract" : "pack"));
        if (extract) {
            Packager.extract(packagePath, list, options);
        } else {
            Packager.pack(list, packagePath, options);
        }
        return 0;
    }
}
