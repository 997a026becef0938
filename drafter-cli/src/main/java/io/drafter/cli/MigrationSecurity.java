package io.drafter.cli;

import io.drafter.migration.transport.PemTls;
import io.drafter.migration.transport.SharedToken;
import io.drafter.migration.transport.TransportSecurity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The security flags of the commands that migrate ({@code peer}, {@code terminator}, {@code mounter}) and what they come to: TLS with
 * client certificates, a shared token (given, or the host's default one), or plain TCP only when asked for by name.
 */
final class MigrationSecurity {
    /** The host's default migration token, when neither a token, TLS nor plain TCP was asked for. */
    static final String DEFAULT_TOKEN_FILE = "/var/lib/drafter/migration.token";

    /** What the flags come to. */
    record Resolved(TransportSecurity security, SharedToken token) {
        /** Whether the migration may go in clear: plain TCP and no token, which only {@code --insecure-plain-tcp} gives. */
        boolean plainTcpAllowed() {
            return security instanceof TransportSecurity.PlainTcp && token == null;
        }
    }

    @Option(
            names = {"--token-file", "-token-file"},
            description = "File with the shared migration token (at least 16 bytes, mode 0600). Without it, TLS or"
                    + " --insecure-plain-tcp, the host's default token is used: $DRAFTER_TOKEN_FILE, else "
                    + DEFAULT_TOKEN_FILE + ", created by a listening peer when missing.")
    Path tokenFile;

    @Option(
            names = {"--tls-cert", "-tls-cert"},
            description = "PEM certificate chain of this side (TLS 1.3, mutual).")
    Path tlsCert;

    @Option(
            names = {"--tls-key", "-tls-key"},
            description = "PEM PKCS#8 private key of this side.")
    Path tlsKey;

    @Option(
            names = {"--tls-ca", "-tls-ca"},
            description = "PEM CA certificate(s) that the other side's certificate must chain to.")
    Path tlsCa;

    @Option(
            names = {"--insecure-plain-tcp", "-insecure-plain-tcp"},
            description = "Migrate over plain TCP with neither token nor TLS (trusted networks only).")
    boolean insecurePlainTcp;

    /**
     * Resolves the flags of {@code command} (for its messages); {@code migrates}: whether it will dial or listen at all,
     * {@code listening}: whether it listens (it then creates the host's default token when there is none).
     *
     * @throws IllegalArgumentException naming the flag, for TLS flags that do not go together or a token file that
     *     cannot be used
     */
    Resolved resolve(String command, boolean migrates, boolean listening) throws Exception {
        TransportSecurity security;
        Path token = tokenFile;
        if (tlsCert != null || tlsKey != null || tlsCa != null) {
            if (tlsCert == null || tlsKey == null || tlsCa == null) {
                throw new IllegalArgumentException(
                        "could not set up TLS: --tls-cert, --tls-key and --tls-ca go together");
            }
            security = TransportSecurity.tls(PemTls.context(tlsCert, tlsKey, tlsCa));
        } else {
            security = TransportSecurity.plainTcp();
            if (token == null && !insecurePlainTcp && migrates) {
                token = defaultToken(command, listening);
            }
        }
        return new Resolved(security, token == null ? null : token(token));
    }

    /** Says on stderr, for {@code command}, that the migration will be neither authenticated nor encrypted. */
    void warnIfInClear(String command, Resolved r) {
        if (insecurePlainTcp && r.plainTcpAllowed()) {
            System.err.println(command + ": WARNING: migrations are neither authenticated nor encrypted"
                    + " (--insecure-plain-tcp); use it only on a network you trust");
        }
    }

    /** The token from {@code file}, with a one-line error naming the file when it cannot be used. */
    static SharedToken token(Path file) {
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("could not read --token-file " + file + ": no such file");
        }
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new IllegalArgumentException("could not read --token-file " + file + ": not a readable file");
        }
        try {
            return SharedToken.fromFile(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("could not use --token-file " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The token of a migration for which neither a token, TLS nor plain TCP was asked for, as in Drafter's walkthrough:
     * the host's default token file ({@code $DRAFTER_TOKEN_FILE}, else {@value #DEFAULT_TOKEN_FILE}). A command that
     * listens creates it (random, 0600) when there is none; one that dials on another host needs a copy of it.
     */
    private static Path defaultToken(String command, boolean listening) {
        String env = System.getenv("DRAFTER_TOKEN_FILE");
        Path file = Path.of(env == null || env.isBlank() ? DEFAULT_TOKEN_FILE : env);
        if (Files.exists(file)) {
            System.err.println(command + ": authenticating and encrypting the migration with the token in " + file);
            return file;
        }
        if (!listening) {
            throw new IllegalArgumentException("could not secure the migration: give --token-file, --tls-cert/"
                    + "--tls-key/--tls-ca or --insecure-plain-tcp, or copy the source host's " + file + " here");
        }
        try {
            SharedToken.createFile(file);
        } catch (IOException e) {
            throw new IllegalArgumentException(
                    "could not create the migration token " + file + ": " + e.getMessage(), e);
        }
        System.err.println(command + ": created the migration token " + file + " (a destination on this host uses it;"
                + " on another host copy it to the same path or pass it with --token-file)");
        return file;
    }
}
