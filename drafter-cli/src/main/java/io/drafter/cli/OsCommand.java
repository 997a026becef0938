package io.drafter.cli;

import io.drafter.linux.HelperCommand;
import io.drafter.linux.HelperCommandException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.security.CodeSource;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code drafter os}: the guest OS (DrafterOS) blueprint. */
@Command(
        name = "os",
        description = "Guest OS (DrafterOS) blueprint tools.",
        subcommands = {OsCommand.Build.class})
public final class OsCommand implements Runnable {
    @Override
    public void run() {
        throw new IllegalStateException("could not run drafter os: missing subcommand (try 'drafter os build')");
    }

    /**
     * {@code drafter os build}: runs the installation's {@code scripts/build-guest.sh}, the one implementation of the
     * build (never one from the working directory, see {@link Build#findScript}).
     */
    @Command(
            name = "build",
            description = "Build vmlinux, initramfs.img, rootfs.ext4 and oci-counter.ext4 from Debian packages"
                    + " (apt-get download + dpkg -x; cached, reproducible).")
    static final class Build implements Callable<Integer> {
        @Option(
                names = {"--out", "-out"},
                defaultValue = "out/blueprint",
                description = "Output directory.")
        Path out;

        @Override
        public Integer call() throws Exception {
            Path script = findScript();
            try {
                HelperCommand.of("bash", script.toString(), out.toString())
                        .step("build the guest")
                        .inheritIo()
                        .timeout(BUILD_TIMEOUT)
                        .check();
            } catch (HelperCommandException e) {
                throw new IllegalStateException(
                        e.kind() == HelperCommandException.Kind.FAILED
                                ? "could not build the guest: " + script + " exited with " + e.exitCode()
                                : e.getMessage(),
                        e);
            }
            return 0;
        }

        /** The longest a guest build may take (it downloads and unpacks Debian packages: minutes, not hours). */
        static final Duration BUILD_TIMEOUT = Duration.ofHours(2);

        /** Where the build script lies in an installation (a checkout), relative to its root. */
        static final String SCRIPT = "scripts/build-guest.sh";

        /**
         * The build script shipped with this installation, found from where this code was loaded: {@code
         * <root>/drafter-cli/target/drafter.jar} (or {@code .../target/classes}) gives {@code
         * <root>/scripts/build-guest.sh}. Never a script from the working directory, the environment or a directory
         * further up: it runs as root, so whoever controls the directory {@code drafter} is started in (or a
         * world-writable {@code /tmp} above a copied jar) must not choose what root runs.
         */
        static Path findScript() {
            CodeSource source = OsCommand.class.getProtectionDomain().getCodeSource();
            Path code;
            try {
                code = Path.of(source.getLocation().toURI()).toAbsolutePath();
            } catch (java.net.URISyntaxException | RuntimeException e) {
                throw new IllegalStateException(
                        "could not find " + SCRIPT + ": cannot tell where drafter is installed (" + e + ")");
            }
            return installedScript(code);
        }

        /**
         * The script of the installation whose code is at {@code code} (a jar or a classes directory): exactly
         * {@code code/../../../scripts/build-guest.sh}, a regular file that, like its directory, belongs to the owner
         * of {@code code} (so a {@code scripts/} someone else planted above an installation is not used either).
         */
        static Path installedScript(Path code) {
            Path target = code.getParent();
            Path module = target == null ? null : target.getParent();
            Path root = module == null ? null : module.getParent();
            if (root == null || !target.getFileName().toString().equals("target")) {
                throw new IllegalStateException("could not find " + SCRIPT + ": drafter runs from " + code
                        + ", not from <checkout>/drafter-cli/target; run bin/drafter of a checkout");
            }
            Path script = root.resolve(SCRIPT);
            if (!Files.isRegularFile(script, LinkOption.NOFOLLOW_LINKS)) {
                throw new IllegalStateException("could not find " + SCRIPT + ": " + script + " (of the installation at "
                        + root + ") does not exist or is not a regular file");
            }
            try {
                UserPrincipal installer = Files.getOwner(code);
                for (Path p : List.of(script.getParent(), script)) {
                    UserPrincipal owner = Files.getOwner(p, LinkOption.NOFOLLOW_LINKS);
                    if (!owner.equals(installer)) {
                        throw new IllegalStateException("could not use " + script + ": " + p + " belongs to "
                                + owner.getName() + ", not to " + installer.getName() + " who installed " + code);
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException("could not check the owner of " + script + ": " + e.getMessage(), e);
            }
            return script;
        }
    }
}
