package io.drafter.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * {@code --help} and {@code --version} of every command, each also with one dash as Drafter's flags take them
 * ({@code -help}, {@code -version}) and the short forms {@code -h}, {@code -V} (picocli mixin).
 */
public final class StandardOptions {
    @Option(
            names = {"-h", "--help", "-help"},
            usageHelp = true,
            description = "Show this help message and exit.")
    boolean help;

    @Option(
            names = {"-V", "--version", "-version"},
            versionHelp = true,
            description = "Print version information and exit.")
    boolean version;

    /** The version of this build, from {@code version.properties} (filled in by Maven), else "unknown". */
    public static String buildVersion() {
        try (InputStream in = StandardOptions.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version", "").strip();
                if (!v.isEmpty() && !v.contains("${")) {
                    return v;
                }
            }
        } catch (IOException e) {
            // fall through
        }
        Package pkg = StandardOptions.class.getPackage();
        String v = pkg == null ? null : pkg.getImplementationVersion();
        return v == null ? "unknown" : v;
    }

    /** {@code drafter <version>}, for every command. */
    public static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"drafter " + buildVersion()};
        }
    }
}
