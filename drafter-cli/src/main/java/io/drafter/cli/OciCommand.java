package io.drafter.cli;

import io.drafter.pkg.oci.ImageConfig;
import io.drafter.pkg.oci.OciBuilder;
import io.drafter.pkg.oci.Platform;
import io.drafter.pkg.oci.RedisExample;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code drafter oci}: container images as VM disks ({@code oci.ext4} runtime bundles). */
@Command(
        name = "oci",
        description = "Turn OCI / docker images into oci.ext4 runtime-bundle disks.",
        subcommands = {OciCommand.Build.class, OciCommand.Example.class})
public final class OciCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (build, example)");
    }

    /** {@code drafter oci build}. */
    @Command(
            name = "build",
            description = "Unpack an image (OCI layout dir, or OCI/docker-archive tar) into an ext4 labelled 'oci'"
                    + " holding config.json + rootfs/.")
    static final class Build implements Callable<Integer> {
        @Option(
                names = {"--image", "-image"},
                required = true,
                paramLabel = "PATH",
                description = "OCI image layout directory, or a tar of one, or a `docker save` archive.")
        Path image;

        @Option(
                names = {"--output", "-output"},
                defaultValue = "out/blueprint/oci.ext4",
                paramLabel = "FILE",
                description = "ext4 image to write.")
        Path output;

        @Option(
                names = {"--platform", "-platform"},
                paramLabel = "OS/ARCH",
                description = "Platform to take from the image (default: this host's, e.g. linux/amd64).")
        String platform;

        @CommandLine.Mixin
        ProgressOption progress = new ProgressOption();

        @Override
        public Integer call() throws Exception {
            Platform p = platform == null ? Platform.host() : Platform.parse(platform);
            ImageConfig c = OciBuilder.build(image, output, p, progress.bar("unpack"));
            System.err.println("drafter: wrote " + output + " (" + c.platform() + ", process "
                    + String.join(" ", concat(c.entrypoint(), c.cmd())) + ")");
            return 0;
        }

        private static List<String> concat(List<String> a, List<String> b) {
            return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
        }
    }

    /** {@code drafter oci example redis}. */
    @Command(
            name = "example",
            description = "Build an example image locally from Debian packages (needs root and apt).")
    static final class Example implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "NAME", description = "Example to build: redis.")
        String name;

        @Option(
                names = {"--output", "-output"},
                defaultValue = "out/redis-oci",
                paramLabel = "DIR|FILE.tar",
                description = "OCI image layout directory, or a tar of it when the name ends in .tar.")
        Path output;

        @Override
        public Integer call() throws Exception {
            if (!name.equals("redis")) {
                throw new CommandLine.ParameterException(
                        spec.commandLine(), "unknown example '" + name + "' (available: redis)");
            }
            List<String> packages = RedisExample.build(output);
            System.err.println("drafter: wrote OCI image " + output + " from " + String.join(" ", packages));
            return 0;
        }
    }
}
