package io.drafter.migration.testing;

import io.drafter.migration.transport.PemTls;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Makes a throw-away CA and peer certificates signed by it at test time with the JDK's keytool ({@code -signer}), and
 * writes them as the PEM files the product reads. Nothing binary is committed.
 */
public final class TestCerts {
    private static final String PASS = "changeit";

    /** The PEM files of one peer: certificate chain, PKCS#8 key, and the CA certificate it trusts. */
    public record Peer(Path chain, Path key, Path ca) {}

    private TestCerts() {}

    /** The certificates every test of this JVM shares. */
    public record Shared(Peer destination, Peer source, Peer rogue) {}

    private static Shared shared;

    /**
     * A CA with a "destination" and a "source" peer, and a second, untrusted CA with a "rogue" peer; made once per JVM
     * in a temporary directory removed at exit.
     */
    public static synchronized Shared shared() throws IOException, InterruptedException {
        if (shared == null) {
            Path dir = Files.createTempDirectory("drafter-test-certs");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try (var files = Files.list(dir)) {
                    for (Path f : files.toList()) {
                        Files.deleteIfExists(f);
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException ignored) {
                    // best effort at exit
                }
            }));
            List<Peer> good = generate(dir, "test-ca", "destination", "source");
            List<Peer> bad = generate(dir, "rogue-ca", "rogue");
            shared = new Shared(good.get(0), good.get(1), bad.get(0));
        }
        return shared;
    }

    /** A CA named {@code ca} and one peer certificate per name, all in {@code dir}; each peer trusts that CA. */
    public static List<Peer> generate(Path dir, String ca, String... peers) throws IOException, InterruptedException {
        Path store = dir.resolve(ca + ".p12");
        keytool(
                "-genkeypair",
                "-keystore",
                store.toString(),
                "-storetype",
                "PKCS12",
                "-storepass",
                PASS,
                "-alias",
                ca,
                "-keyalg",
                "EC",
                "-groupname",
                "secp256r1",
                "-dname",
                "CN=" + ca,
                "-ext",
                "bc:c",
                "-validity",
                "2");
        for (String p : peers) {
            keytool(
                    "-genkeypair",
                    "-keystore",
                    store.toString(),
                    "-storepass",
                    PASS,
                    "-alias",
                    p,
                    "-keyalg",
                    "EC",
                    "-groupname",
                    "secp256r1",
                    "-dname",
                    "CN=" + p,
                    "-signer",
                    ca,
                    "-ext",
                    "san=ip:127.0.0.1",
                    "-validity",
                    "2");
        }
        List<Peer> out = new ArrayList<>();
        try (InputStream in = Files.newInputStream(store)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, PASS.toCharArray());
            Path caPem = dir.resolve(ca + ".pem");
            Files.writeString(
                    caPem, PemTls.toPem("CERTIFICATE", ks.getCertificate(ca).getEncoded()));
            for (String p : peers) {
                Path chain = dir.resolve(p + ".chain.pem");
                Files.writeString(
                        chain,
                        PemTls.toPem("CERTIFICATE", ks.getCertificate(p).getEncoded())
                                + PemTls.toPem(
                                        "CERTIFICATE", ks.getCertificate(ca).getEncoded()));
                Path key = dir.resolve(p + ".key.pem");
                PrivateKey pk = (PrivateKey) ks.getKey(p, PASS.toCharArray());
                Files.writeString(key, PemTls.toPem("PRIVATE KEY", pk.getEncoded()));
                out.add(new Peer(chain, key, caPem));
            }
        } catch (GeneralSecurityException e) {
            throw new IOException("could not read test keystore " + store, e);
        }
        return out;
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        cmd.add("-J-XX:TieredStopAtLevel=1");
        cmd.add("-J-Xshare:auto");
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("keytool " + String.join(" ", args) + " failed: " + out);
        }
    }
}
