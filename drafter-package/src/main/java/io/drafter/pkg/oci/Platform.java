package io.drafter.pkg.oci;

import java.util.Locale;

/**
 * An image platform, written {@code os/architecture[/variant]} as in {@code --platform linux/amd64}.
 *
 * @param os operating system, e.g. {@code linux}
 * @param architecture Go/OCI architecture name, e.g. {@code amd64}, {@code arm64}
 * @param variant CPU variant or empty, e.g. {@code v8}
 */
public record Platform(String os, String architecture, String variant) {
    public Platform {
        variant = variant == null ? "" : variant;
    }

    /** Parses {@code os/arch[/variant]}. */
    public static Platform parse(String text) {
        String[] p = text.split("/");
        if (p.length < 2 || p.length > 3 || p[0].isEmpty() || p[1].isEmpty()) {
            throw new IllegalArgumentException("invalid platform '" + text + "' (expected os/arch, e.g. linux/amd64)");
        }
        return new Platform(p[0], p[1], p.length == 3 ? p[2] : "");
    }

    /** The platform of this host (only {@code linux} hosts run Drafter). */
    public static Platform host() {
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        return new Platform(
                "linux",
                switch (arch) {
                    case "x86_64", "amd64" -> "amd64";
                    case "aarch64", "arm64" -> "arm64";
                    default -> arch;
                },
                "");
    }

    /** Whether an image for {@code other} runs here; an empty variant on either side matches any. */
    public boolean accepts(Platform other) {
        return os.equals(other.os)
                && architecture.equals(other.architecture)
                && (variant.isEmpty() || other.variant.isEmpty() || variant.equals(other.variant));
    }

    @Override
    public String toString() {
        return os + "/" + architecture + (variant.isEmpty() ? "" : "/" + variant);
    }
}
