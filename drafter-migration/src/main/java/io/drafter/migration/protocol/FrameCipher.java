package io.drafter.migration.protocol;

import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals or opens the frames of one direction of a session with AES-256-GCM; the nonce is the direction's frame
 * counter, so a receiver opens only the next frame its peer sealed. A sealed frame:
 *
 * <pre>
 * | field      | offset      | size        | meaning                                                    |
 * |------------|-------------|-------------|------------------------------------------------------------|
 * | length     | 0           | 4           | bytes that follow: 1 + payload + 16 (17 .. max frame + 16) |
 * | ciphertext | 4           | length - 16 | type and payload of the frame, encrypted                   |
 * | tag        | length - 12 | 16          | GCM tag over the length prefix (AAD) and the ciphertext    |
 * </pre>
 *
 * <p>Nonce (96 bits): 4 zero bytes, then the u64 big-endian counter of the frame in its direction (the first sealed
 * frame is 0). Each direction has its own key, so the two counters never share a nonce under one key.
 *
 * <p><b>Note:</b> not thread-safe: one instance per direction and side, used by one thread at a time (the {@link
 * FrameProxy} under its lock, the {@link FrameAdapter} on its reader thread). It reuses one {@link Cipher}.
 */
public final class FrameCipher {
    /** Bytes of the GCM tag behind every sealed frame. */
    public static final int TAG_BYTES = 16;

    private static final int NONCE_BYTES = 12;
    private static final int WARM_UP_FRAMES = 4000;
    private static final int WARM_UP_BODY_BYTES = 1024;
    private static final AtomicBoolean WARMING = new AtomicBoolean();

    private final Cipher cipher;
    private final SecretKey key;
    private final int mode;
    private final byte[] nonce = new byte[NONCE_BYTES];
    private final byte[] aad = new byte[4];
    private long counter;
    private boolean broken;

    private FrameCipher(SecretKey key, int mode) {
        byte[] encoded = key.getEncoded();
        if (encoded == null || encoded.length != 32 || !"AES".equals(key.getAlgorithm())) {
            throw new IllegalArgumentException("frame keys are AES-256 keys (32 bytes)");
        }
        Arrays.fill(encoded, (byte) 0);
        warmUp();
        this.key = key;
        this.mode = mode;
        try {
            this.cipher = Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES/GCM/NoPadding is part of every JDK", e);
        }
    }

    /**
     * Starts, once per JVM, a background thread that seals and opens {@value #WARM_UP_FRAMES} small frames under a
     * throwaway key, and returns at once. Why: the JDK's AES-GCM uses its fused AES-GCM intrinsic only once C2 has
     * compiled it, after some thousand calls; at one call per 256 KiB frame a fresh process would seal and open its
     * first gigabyte or so at a fraction of the speed (measured here: 70 MiB/s for the first 128 MiB, against several
     * GiB/s warm). It costs about 0.1–0.3 s of one core. Called by the first {@code FrameCipher}, and earlier by those who
     * know that frames will be sealed (a listener with a token when it binds, the engines when they start).
     */
    public static void warmUp() {
        if (!WARMING.compareAndSet(false, true)) {
            return;
        }
        Thread.ofPlatform().name("migration-frame-cipher-warm-up").daemon().start(() -> {
            try {
                byte[] k = new byte[32];
                new SecureRandom().nextBytes(k);
                SecretKey throwaway = new SecretKeySpec(k, "AES");
                FrameCipher sealer = sealing(throwaway);
                FrameCipher opener = opening(throwaway);
                byte[] body = new byte[WARM_UP_BODY_BYTES];
                byte[] sealed = new byte[4 + WARM_UP_BODY_BYTES + TAG_BYTES];
                for (int i = 0; i < WARM_UP_FRAMES; i++) {
                    int n = sealer.seal(body, 0, body.length, sealed, 0);
                    opener.open(sealed, sealed, 4, n - 4, body, 0);
                }
            } catch (AEADBadTagException | RuntimeException e) {
                // Only speed is at stake.
                System.getLogger(FrameCipher.class.getName()).log(Level.DEBUG, "could not warm up AES-GCM: " + e);
            }
        });
    }

    /** Seals the frames this side sends under {@code key}. */
    public static FrameCipher sealing(SecretKey key) {
        return new FrameCipher(key, Cipher.ENCRYPT_MODE);
    }

    /** Opens the frames the peer sealed under {@code key}. */
    public static FrameCipher opening(SecretKey key) {
        return new FrameCipher(key, Cipher.DECRYPT_MODE);
    }

    /** The counter of the next frame: how many frames were sealed or opened so far. */
    public long counter() {
        return counter;
    }

    /**
     * Seals the next frame: writes its length prefix to {@code out[outOffset..+4)} and the ciphertext and tag of {@code
     * in[bodyOffset..+bodyBytes)} (type and payload) behind it. In place when {@code in == out} and {@code bodyOffset ==
     * outOffset + 4}; {@code out} needs {@link #TAG_BYTES} bytes of room behind the body.
     *
     * @return the bytes of the sealed frame: 4 + bodyBytes + {@value #TAG_BYTES}
     */
    public int seal(byte[] in, int bodyOffset, int bodyBytes, byte[] out, int outOffset) {
        if (mode != Cipher.ENCRYPT_MODE) {
            throw new IllegalStateException("this cipher opens frames; it does not seal them");
        }
        if (bodyBytes < 1 || bodyBytes > FrameCodec.MAX_FRAME_BYTES) {
            throw new IllegalArgumentException(
                    "frame body of " + bodyBytes + " bytes outside 1.." + FrameCodec.MAX_FRAME_BYTES);
        }
        int length = bodyBytes + TAG_BYTES;
        ByteBuffer.wrap(out, outOffset, 4).putInt(length);
        try {
            start(out, outOffset);
            int n = cipher.doFinal(in, bodyOffset, bodyBytes, out, outOffset + 4);
            if (n != length) {
                throw new IllegalStateException("sealed " + n + " bytes, expected " + length);
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("could not seal frame " + counter + ": " + e, e);
        }
        counter++;
        return 4 + length;
    }

    /**
     * Opens the next frame: checks the tag of {@code in[offset..+sealedBytes)} (ciphertext and tag) under this
     * direction's next counter and {@code lengthPrefix}, and writes the plaintext (type and payload) to {@code
     * out[outOffset..)}. Once a frame failed, every later one fails too.
     *
     * @param lengthPrefix the frame's 4-byte length prefix as received (its value is {@code sealedBytes})
     * @return the plaintext's bytes: {@code sealedBytes - }{@value #TAG_BYTES}
     * @throws AEADBadTagException if the frame is not the next one the peer sealed, or was changed
     */
    public int open(byte[] lengthPrefix, byte[] in, int offset, int sealedBytes, byte[] out, int outOffset)
            throws AEADBadTagException {
        if (mode != Cipher.DECRYPT_MODE) {
            throw new IllegalStateException("this cipher seals frames; it does not open them");
        }
        if (broken) {
            throw new AEADBadTagException("an earlier frame failed authentication");
        }
        if (sealedBytes < 1 + TAG_BYTES) {
            broken = true;
            throw new AEADBadTagException(
                    "a sealed frame has at least " + (1 + TAG_BYTES) + " bytes, this one " + sealedBytes);
        }
        try {
            start(lengthPrefix, 0);
            int n = cipher.doFinal(in, offset, sealedBytes, out, outOffset);
            counter++;
            return n;
        } catch (AEADBadTagException e) {
            broken = true;
            throw new AEADBadTagException("the tag does not match (the frame was changed, replayed, reordered or"
                    + " injected, or one before it was lost)");
        } catch (GeneralSecurityException e) {
            broken = true;
            throw new IllegalStateException("could not open frame " + counter + ": " + e, e);
        }
    }

    /** Initialises the cipher for the next counter with the 4 bytes at {@code prefix[offset..]} as AAD. */
    private void start(byte[] prefix, int offset) throws GeneralSecurityException {
        if (counter < 0) {
            throw new IllegalStateException("frame counter exhausted");
        }
        ByteBuffer.wrap(nonce).putLong(4, counter);
        // Copied: when sealing in place the prefix sits in the output array, which the cipher writes.
        System.arraycopy(prefix, offset, aad, 0, 4);
        cipher.init(mode, key, new GCMParameterSpec(TAG_BYTES * 8, nonce));
        cipher.updateAAD(aad);
    }

    @Override
    public String toString() {
        return "FrameCipher(" + (mode == Cipher.ENCRYPT_MODE ? "sealing" : "opening") + ", next frame " + counter + ")";
    }
}
