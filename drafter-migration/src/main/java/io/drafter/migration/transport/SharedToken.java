package io.drafter.migration.transport;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;
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
    /** The longest first line read from a token file: the quickstart's token is 64 hex digits. */
    public static final int MAX_LINE_BYTES = 4096;

    private static final Set<PosixFilePermission> SHARED = EnumSet.of(
            PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.OTHERS_READ,
            PosixFilePermission.OTHERS_WRITE);

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

    /**
     * A token read from the first line of a file, which must be private: a token file that its group or others may
     * read or write is refused (anyone who reads it can migrate a VM in or out; anyone who writes it chooses the
     * token), with the {@code chmod 600} that fixes it. At most {@value #MAX_LINE_BYTES} bytes are read.
     */
    public static SharedToken fromFile(Path file) throws IOException {
        checkPrivate(file);
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(MAX_LINE_BYTES + 1); // the first line, whatever the file holds after it
        } catch (IOException e) {
            throw new IOException("could not read token file " + file + ": " + e.getMessage(), e);
        }
        int end = 0;
        while (end < head.length && head[end] != '\n') {
            end++;
        }
        if (end > MAX_LINE_BYTES) {
            throw new IOException("could not use token file " + file + ": its first line is longer than the limit of "
                    + MAX_LINE_BYTES + " bytes");
        }
        String text;
        try {
            // strict: a binary token would lose bytes to replacement characters, and with them its strength
            text = StandardCharsets.UTF_8
                    .newDecoder()
                    .decode(ByteBuffer.wrap(head, 0, end))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IOException("could not use token file " + file + ": its first line is not UTF-8 text", e);
        }
        try {
            return of(text);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage() + " (file " + file + ")", e);
        }
    }

    private static void checkPrivate(Path file) throws IOException {
        Set<PosixFilePermission> perms;
        try {
            perms = Files.readAttributes(file, PosixFileAttributes.class).permissions();
        } catch (NoSuchFileException e) {
            throw new IOException("could not read token file " + file + ": no such file", e);
        } catch (UnsupportedOperationException e) {
            return; // no POSIX modes on this file system: nothing to check
        }
        if (!Collections.disjoint(perms, SHARED)) {
            int mode = 0;
            for (PosixFilePermission p : perms) {
                mode |= 0400 >> p.ordinal();
            }
            throw new IOException(String.format(
                    "could not use token file %s: it is readable or writable by group or others (mode %04o); make it"
                            + " private with: chmod 600 %s",
                    file, mode, file));
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

    /**
     * Creates {@code file} with a new random token (32 bytes, hex, one line), readable and writable by its owner only;
     * missing parent directories are created for the owner only. Fails if the file exists.
     */
    public static void createFile(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            Files.createDirectories(
                    parent,
                    java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                            java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
        }
        byte[] random = new byte[32];
        new java.security.SecureRandom().nextBytes(random);
        String hex = java.util.HexFormat.of().formatHex(random) + "\n";
        Path tmp = file.resolveSibling(
                "." + file.getFileName() + "." + ProcessHandle.current().pid() + ".new");
        Files.deleteIfExists(tmp);
        Files.createFile(
                tmp,
                java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                        java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, hex, StandardCharsets.US_ASCII);
        try {
            // Two peers starting at once: the first one's token wins, the other one uses it.
            Files.createLink(file, tmp);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            // Made meanwhile by another peer: fine.
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
