package io.drafter.migration.transport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A secret both peers know, proven with HMAC-SHA256 over both handshake nonces; the token itself never crosses the
 * wire. Each side's proof carries its role, so one side's proof cannot be reflected back as the other's.
 *
 * <p><b>Note:</b> immutable and thread-safe.
 */
public final class SharedToken {
    /** The shortest accepted token. */
    public static final int MIN_BYTES = 16;

    private final byte[] secret;

    private SharedToken(byte[] secret) {
        this.secret = secret.clone();
    }

    /** A token from its text (UTF-8), at least {@value #MIN_BYTES} bytes. */
    public static SharedToken of(String text) {
        byte[] b = text.strip().getBytes(StandardCharsets.UTF_8);
        if (b.length < MIN_BYTES) {
            throw new IllegalArgumentException(
                    "could not use token: it has " + b.length + " bytes, at least " + MIN_BYTES + " are needed");
        }
        return new SharedToken(b);
    }

    /** A token read from the first line of a file. */
    public static SharedToken fromFile(Path file) throws IOException {
        String text = Files.readString(file).lines().findFirst().orElse("");
        try {
            return of(text);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage() + " (file " + file + ")", e);
        }
    }

    /** The proof that the side playing {@code role} knows the token, bound to both nonces. */
    public byte[] proof(String role, byte[] sourceNonce, byte[] destinationNonce) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            mac.update(("drafter-migration-v1 " + role).getBytes(StandardCharsets.US_ASCII));
            mac.update(sourceNonce);
            mac.update(destinationNonce);
            return mac.doFinal();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    /** Whether {@code proof} is the right one, compared in constant time. */
    public boolean verify(byte[] proof, String role, byte[] sourceNonce, byte[] destinationNonce) {
        return MessageDigest.isEqual(proof, proof(role, sourceNonce, destinationNonce));
    }

    @Override
    public String toString() {
        return "SharedToken(" + secret.length + " bytes)";
    }
}
