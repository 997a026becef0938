package io.drafter.migration.transport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

/**
 * A secret both peers know, proven with HMAC-SHA256 over both handshake nonces; the token itself never crosses the
 * wire. Each side's proof carries its role, so one side's proof cannot be reflected back as the other's. Over plain TCP
 * the token also keys the session: {@link #sessionKeys} derives the AES-256 keys that seal every frame after the
 * proofs.
 *
 * <p><b>Note:</b> immutable and thread-safe.
 */
public final class SharedToken {
    /** The shortest accepted token. */
    public static final int MIN_BYTES = 16;

    /** Bytes of each session key (AES-256). */
    public static final int KEY_BYTES = 32;

    static final String SOURCE_TO_DESTINATION_LABEL = "drafter-migration-v3 frame key source to destination";
    static final String DESTINATION_TO_SOURCE_LABEL = "drafter-migration-v3 frame key destination to source";

    /**
     * The two AES-256 keys of one session, one per direction. Never printed.
     *
     * @param sourceToDestination seals the frames the source sends
     * @param destinationToSource seals the frames the destination sends
     */
    public record SessionKeys(SecretKey sourceToDestination, SecretKey destinationToSource) {
        @Override
        public String toString() {
            return "SessionKeys(AES-256, one per direction)";
        }
    }

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

    /**
     * The keys of the session whose HELLO carried {@code sourceNonce} and whose HELLO_REPLY carried {@code
     * destinationNonce}: HKDF-SHA256 with the token as input key material, both nonces as salt, and per direction a
     * label ({@value #SOURCE_TO_DESTINATION_LABEL}, {@value #DESTINATION_TO_SOURCE_LABEL}) followed by {@code
     * transcript} as info. Both sides derive the same keys; each side's fresh nonce makes them new for every session.
     *
     * @param transcript the HELLO and HELLO_REPLY frames as sent (length prefixes included), so that a handshake changed
     *     on the way (flags, version) yields other keys on the two sides and the first sealed frame fails
     */
    public SessionKeys sessionKeys(byte[] sourceNonce, byte[] destinationNonce, byte[] transcript) {
        byte[] salt = new byte[sourceNonce.length + destinationNonce.length];
        System.arraycopy(sourceNonce, 0, salt, 0, sourceNonce.length);
        System.arraycopy(destinationNonce, 0, salt, sourceNonce.length, destinationNonce.length);
        byte[] prk = Hkdf.extract(salt, secret);
        try {
            return new SessionKeys(
                    key(prk, SOURCE_TO_DESTINATION_LABEL, transcript),
                    key(prk, DESTINATION_TO_SOURCE_LABEL, transcript));
        } finally {
            Arrays.fill(prk, (byte) 0);
        }
    }

    private static SecretKey key(byte[] prk, String label, byte[] transcript) {
        byte[] l = label.getBytes(StandardCharsets.US_ASCII);
        byte[] info = Arrays.copyOf(l, l.length + transcript.length);
        System.arraycopy(transcript, 0, info, l.length, transcript.length);
        byte[] k = Hkdf.expand(prk, info, KEY_BYTES);
        try {
            return new SecretKeySpec(k, "AES");
        } finally {
            Arrays.fill(k, (byte) 0);
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
