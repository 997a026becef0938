package io.drafter.migration.transport;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Builds a TLS 1.3 {@link SSLContext} for mutual authentication from PEM files: this peer's certificate chain, its
 * unencrypted PKCS#8 private key ({@code BEGIN PRIVATE KEY}; RSA, EC or Ed25519), and the CA certificates it trusts
 * for the other peer.
 *
 * <p><b>Note:</b> stateless.
 */
public final class PemTls {
    private static final Pattern BLOCK =
            Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*)-----END \\1-----");
    private static final char[] NO_PASSWORD = new char[0];
    /** Larger PEM files are refused: a certificate chain or a key takes a few KiB. */
    static final int MAX_PEM_BYTES = 1 << 20;

    private PemTls() {}

    /** The context for a peer presenting {@code certChainPem} + {@code privateKeyPem} and trusting {@code caPem}. */
    public static SSLContext context(Path certChainPem, Path privateKeyPem, Path caPem) throws IOException {
        List<Certificate> chain = certificates(certChainPem);
        PrivateKey key = privateKey(privateKeyPem);
        List<Certificate> cas = certificates(caPem);
        try {
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("peer", key, NO_PASSWORD, chain.toArray(Certificate[]::new));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(keys, NO_PASSWORD);
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            for (int i = 0; i < cas.size(); i++) {
                trust.setCertificateEntry("ca" + i, cas.get(i));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLSv1.3");
            ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException(
                    "could not build TLS context from " + certChainPem + ", " + privateKeyPem + ", " + caPem + ": "
                            + e.getMessage(),
                    e);
        }
    }

    /** Every certificate in a PEM file, in file order. */
    public static List<Certificate> certificates(Path pem) throws IOException {
        List<Certificate> out = new ArrayList<>();
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            for (Block b : blocks(pem)) {
                if (b.label.equals("CERTIFICATE")) {
                    out.add(cf.generateCertificate(new ByteArrayInputStream(b.der)));
                }
            }
        } catch (GeneralSecurityException e) {
            throw new IOException("could not read certificate from " + pem + ": " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new IOException("could not read certificate from " + pem + ": no BEGIN CERTIFICATE block");
        }
        return out;
    }

    /** The PKCS#8 private key in a PEM file. */
    public static PrivateKey privateKey(Path pem) throws IOException {
        for (Block b : blocks(pem)) {
            switch (b.label) {
                case "PRIVATE KEY" -> {
                    for (String alg : new String[] {"RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"}) {
                        try {
                            return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(b.der));
                        } catch (GeneralSecurityException tryNext) {
                            // not this algorithm
                        }
                    }
                    throw new IOException("could not read private key from " + pem
                            + ": PKCS#8 key of an unsupported algorithm (RSA, EC, Ed25519 work)");
                }
                case "RSA PRIVATE KEY", "EC PRIVATE KEY" ->
                    throw new IOException("could not read private key from " + pem + ": \"" + b.label
                            + "\" is not PKCS#8; convert it with `openssl pkcs8 -topk8 -nocrypt`");
                case "ENCRYPTED PRIVATE KEY" ->
                    throw new IOException(
                            "could not read private key from " + pem + ": encrypted keys are not supported");
                default -> {}
            }
        }
        throw new IOException("could not read private key from " + pem + ": no BEGIN PRIVATE KEY block");
    }

    /** Writes {@code der} as a PEM block with {@code label}. */
    public static String toPem(String label, byte[] der) {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der);
        return "-----BEGIN " + label + "-----\n" + body + "\n-----END " + label + "-----\n";
    }

    private record Block(String label, byte[] der) {}

    private static List<Block> blocks(Path pem) throws IOException {
        byte[] bytes;
        try (InputStream in = Files.newInputStream(pem)) {
            bytes = in.readNBytes(MAX_PEM_BYTES + 1); // not more: the file could be anything, even endless
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IOException("could not read PEM file " + pem + ": no such file", e);
        } catch (java.nio.file.AccessDeniedException e) {
            throw new IOException("could not read PEM file " + pem + ": permission denied", e);
        } catch (IOException e) {
            throw new IOException("could not read PEM file " + pem + ": " + e.getMessage(), e);
        }
        if (bytes.length > MAX_PEM_BYTES) {
            throw new IOException(
                    "could not read PEM file " + pem + ": larger than the limit of " + (MAX_PEM_BYTES >> 20) + " MiB");
        }
        String text = new String(bytes, StandardCharsets.US_ASCII);
        List<Block> out = new ArrayList<>();
        Matcher m = BLOCK.matcher(text);
        while (m.find()) {
            try {
                out.add(new Block(m.group(1), Base64.getMimeDecoder().decode(m.group(2))));
            } catch (IllegalArgumentException e) {
                throw new IOException("could not read PEM file " + pem + ": bad base64 in " + m.group(1) + " block");
            }
        }
        return out;
    }
}
