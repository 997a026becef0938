package io.drafter.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code drafter os}: the guest OS (DrafterOS) blueprint. */
@Command(
        name = "os",
        mixinStandardHelpOptions = true,
        description = "Guest OS (DrafterOS) blueprint tools.",
        subcommands = {OsCommand.Build.class})
public final class OsCommand implements Runnable {
    @Override
    public void run() {
        throw new IllegalStateException("could not run drafter os: missing subcommand (try 'drafter os build')");
    }

    /** {@code drafter os build}: runs {@code scripts/build-guest.sh}, the one implementation of the build. */
    @Command(
            name = "build",
            mixinStandardHelpOptions = true,
            description = "Build vmlinux, initramfs.img, rootfs.ext4 and oci-counter.ext4 from Debian packages"
                    + " (apt-get download + dpkg -x; cached, reproducible).")
    static final class Build implements Callable<Integer> {
        @Option(
                names = {"--out", "-out"},
                defaultValue = "out/blueprint",
                description = "Output directory (default: ${DEFAULT-VALUE}).")
        Path out;

        @Override
        public Integer call() throws Exception {
            Path script = findScript();
            Process p = new ProcessBuilder("bash", script.toString(), out.toString())
                    .inheritIO()
                    .start();
            int rc = p.waitFor();
            if (rc != 0) {
                throw new IllegalStateException("could not build the guest: " + script + " exited with " + rc);
            }
            return 0;
        }

        /** The build script: $DRAFTER_HOME/scripts, else beside the jar's checkout, else the working directory. */
        static Path findScript() {
            String home = System.getenv("DRAFTER_HOME");
            if (home != null && Files.isRegularFile(Path.of(home, "scripts/build-guest.sh"))) {
                return Path.of(home, "scripts/build-guest.sh");
            }
            try {
                Path p = Path.of(OsCommand.class
                                .getProtectionDomain()
                                .getCodeSource()
                                .getLocation()
                                .toURI())
                        .toAbsolutePath();
                for (; p != null; p = p.getParent()) {
                    if (Files.isRegularFile(p.resolve("scripts/build-guest.sh"))) {
                        return p.resolve("scripts/build-guest.sh");
                    }
                }
            } catch (java.net.URISyntaxException | SecurityException e) {
                // fall through to the working directory
            }
            Path cwd = Path.of("scripts/build-guest.sh").toAbsolutePath();
            if (Files.isRegularFile(cwd)) {
                return cwd;
            }
            throw new IllegalStateException(
                    "could not find scripts/build-guest.sh: set DRAFTER_HOME to the drafter checkout");
        }
    }
}
