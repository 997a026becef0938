package io.drafter.migration.transport;

import java.security.GeneralSecurityException;
import java.util.Arrays;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * HKDF-SHA256 (RFC 5869) built from the JDK's HmacSHA256: {@link #extract} concentrates a secret and a salt into a
 * pseudorandom key, {@link #expand} stretches that into output bound to an {@code info} label.
 *
 * <p><b>Note:</b> stateless and thread-safe.
 */
final class Hkdf {
    static final int HASH_BYTES = 32;
    private static final String HMAC = "HmacSHA256";

    private Hkdf() {}

    /** HKDF-Extract: HMAC-SHA256 keyed with {@code salt} (32 zero bytes if empty) over {@code ikm}. */
    static byte[] extract(byte[] salt, byte[] ikm) {
        byte[] key = salt.length == 0 ? new byte[HASH_BYTES] : salt;
        return mac(key).doFinal(ikm);
    }

    /** HKDF-Expand: {@code bytes} (at most 255 × 32) of output keyed with {@code prk} and bound to {@code info}. */
    static byte[] expand(byte[] prk, byte[] info, int bytes) {
        if (bytes < 1 || bytes > 255 * HASH_BYTES) {
            throw new IllegalArgumentException(
                    "HKDF-SHA256 output of " + bytes + " bytes outside 1.." + 255 * HASH_BYTES);
        }
        Mac mac = mac(prk);
        byte[] out = new byte[bytes];
        byte[] t = new byte[0];
        for (int i = 1, done = 0; done < bytes; i++) {
            mac.update(t);
            mac.update(info);
            mac.update((byte) i);
            t = mac.doFinal();
            int n = Math.min(t.length, bytes - done);
            System.arraycopy(t, 0, out, done, n);
            done += n;
        }
        Arrays.fill(t, (byte) 0);
        return out;
    }

    private static Mac mac(byte[] key) {
        try {
            Mac mac = Mac.getInstance(HMAC);
            mac.init(new SecretKeySpec(key, HMAC));
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }
}
