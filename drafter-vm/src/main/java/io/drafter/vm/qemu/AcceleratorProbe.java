package io.drafter.vm.qemu;

import io.drafter.linux.HelperCommand;
import io.drafter.linux.HelperCommandException;
import io.drafter.vm.Accel;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * Decides between KVM and TCG: KVM only when a guest kernel actually boots under it on this host (a
 * {@code /dev/kvm} backed by PVM, for example, exists but fails the stock kernel). The probe boots the
 * given kernel with {@code drafter.probe} on its command line for at most {@link #PROBE_TIMEOUT}; the
 * DrafterOS initramfs prints {@code drafter-init: probe ok} and powers off. The result is cached per
 * host kernel, QEMU binary and guest kernel in {@code ~/.cache/drafter/accel-probe.properties}.
 */
public final class AcceleratorProbe {
    private static final System.Logger LOG = System.getLogger(AcceleratorProbe.class.getName());
    /** Longest a probe boot may take. */
    public static final Duration PROBE_TIMEOUT = Duration.ofSeconds(20);

    /**
     * The outcome of a decision.
     *
     * @param accel the accelerator to use
     * @param reason why, for the log
     */
    public record Decision(Accel accel, String reason) {}

    private AcceleratorProbe() {}

    /** Resolves {@code requested}: KVM and TCG are kept, AUTO probes (or reads the cache). */
    public static synchronized Decision decide(Accel requested, String qemu, Path kernel, Path initrd) {
        if (requested != Accel.AUTO) {
            return new Decision(requested, "requested");
        }
        String env = System.getenv("DRAFTER_ACCEL");
        if (env != null && (env.equals("kvm") || env.equals("tcg"))) {
            return log(new Decision(Accel.valueOf(env.toUpperCase(java.util.Locale.ROOT)), "DRAFTER_ACCEL=" + env));
        }
        Path kvm = Path.of("/dev/kvm");
        if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
            return log(new Decision(Accel.TCG, "/dev/kvm is missing or not read-writable"));
        }
        String key = cacheKey(qemu, kernel);
        Path cache = cacheFile();
        Properties props = new Properties();
        try (var in = Files.newInputStream(cache)) {
            props.load(in);
        } catch (IOException e) {
            // no cache yet
        }
        String cached = props.getProperty(key);
        if (cached != null) {
            int bar = cached.indexOf('|');
            return log(new Decision(
                    Accel.valueOf(cached.substring(0, bar)), "cached probe: " + cached.substring(bar + 1)));
        }
        Decision d = probe(qemu, kernel, initrd);
        props.setProperty(key, d.accel().name() + "|" + d.reason());
        try {
            Files.createDirectories(cache.getParent());
            try (var out = Files.newOutputStream(cache)) {
                props.store(out, "drafter accelerator probe results");
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not write probe cache {0}: {1}", cache, e.getMessage());
        }
        return log(d);
    }

    private static Decision log(Decision d) {
        LOG.log(System.Logger.Level.INFO, "accelerator {0}: {1}", d.accel().qemuName(), d.reason());
        return d;
    }

    static Decision probe(String qemu, Path kernel, Path initrd) {
        Path dir = null;
        try {
            dir = Files.createTempDirectory("drafter-accel-probe");
            Path console = dir.resolve("console.log");
            List<String> args = new ArrayList<>(List.of(
                    qemu,
                    "-nodefaults",
                    "-no-user-config",
                    "-no-reboot",
                    "-display",
                    "none",
                    "-monitor",
                    "none",
                    "-machine",
                    "microvm",
                    "-accel",
                    "kvm",
                    "-cpu",
                    "host",
                    "-m",
                    "128M",
                    "-kernel",
                    kernel.toString(),
                    "-serial",
                    "file:" + console));
            if (initrd != null) {
                args.addAll(List.of("-initrd", initrd.toString()));
            }
            args.addAll(List.of("-append", "console=ttyS0 panic=-1 quiet drafter.probe"));
            // The probe boots the guest kernel too: in the same sandbox as every other QEMU of ours.
            args.addAll(List.of("-sandbox", QemuCommandLine.sandbox(null)));
            HelperCommand.Result r = null;
            try {
                r = HelperCommand.of(args)
                        .step("probe KVM")
                        .tiedToJvm()
                        .timeout(PROBE_TIMEOUT)
                        .run();
            } catch (HelperCommandException e) {
                if (e.kind() != HelperCommandException.Kind.TIMED_OUT) {
                    throw e;
                }
            }
            String out = Files.exists(console)
                    ? Files.readString(console, java.nio.charset.StandardCharsets.ISO_8859_1)
                    : "";
            boolean booted = initrd != null ? out.contains("drafter-init: probe ok") : out.contains("Kernel panic");
            if (booted) {
                return new Decision(Accel.KVM, "probe guest booted under KVM");
            }
            String qlog = r == null ? "" : (r.stdout() + r.stderr()).strip();
            String why = r == null
                    ? "probe guest did not finish booting under KVM within " + PROBE_TIMEOUT
                    : "probe guest failed under KVM (exit " + r.exitCode() + ")"
                            + (qlog.isEmpty()
                                    ? ""
                                    : ": " + qlog.lines().reduce((a, b) -> b).orElse(""));
            return new Decision(Accel.TCG, why);
        } catch (HelperCommandException e) {
            return new Decision(
                    Accel.TCG,
                    e.kind() == HelperCommandException.Kind.INTERRUPTED
                            ? "KVM probe interrupted"
                            : "could not run KVM probe: "
                                    + (e.getCause() == null
                                            ? e.getMessage()
                                            : e.getCause().getMessage()));
        } catch (IOException e) {
            return new Decision(Accel.TCG, "could not run KVM probe: " + e.getMessage());
        } finally {
            if (dir != null) {
                try (var files = Files.list(dir)) {
                    for (Path f : files.toList()) {
                        Files.deleteIfExists(f);
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.DEBUG, "probe clean-up: {0}", e.getMessage());
                }
            }
        }
    }

    private static String cacheKey(String qemu, Path kernel) {
        String hostKernel;
        try {
            hostKernel = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        } catch (IOException e) {
            hostKernel = "unknown";
        }
        String k;
        try {
            FileTime t = Files.getLastModifiedTime(kernel);
            k = kernel.getFileName() + ":" + Files.size(kernel) + ":" + t.toMillis();
        } catch (IOException e) {
            k = kernel.toString();
        }
        return (hostKernel + "|" + qemu + "|" + k).replaceAll("[^A-Za-z0-9._:|/-]", "_");
    }

    private static Path cacheFile() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("drafter").resolve("accel-probe.properties");
    }
}
