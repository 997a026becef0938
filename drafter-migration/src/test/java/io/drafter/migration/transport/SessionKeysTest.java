package io.drafter.migration.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** HKDF-SHA256 against RFC 5869's vectors, and the session keys: new per session and per direction. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SessionKeysTest {
    static final HexFormat HEX = HexFormat.of();
    static final SharedToken TOKEN = SharedToken.of("session-keys-test-token");

    static byte[] range(int from, int to) {
        byte[] b = new byte[to - from];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (from + i);
        }
        return b;
    }

    static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) value);
        return b;
    }

    @Test
    void hkdfMatchesRfc5869() {
        // Test case 1
        byte[] prk = Hkdf.extract(range(0x00, 0x0d), filled(22, 0x0b));
        assertEquals("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", HEX.formatHex(prk));
        assertEquals(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
                HEX.formatHex(Hkdf.expand(prk, range(0xf0, 0xfa), 42)));
        // Test case 2: longer inputs, three blocks of output
        prk = Hkdf.extract(range(0x60, 0xb0), range(0x00, 0x50));
        assertEquals("06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244", HEX.formatHex(prk));
        assertEquals(
                "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600"
                        + "c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
                HEX.formatHex(Hkdf.expand(prk, range(0xb0, 0x100), 82)));
        // Test case 3: empty salt and info
        prk = Hkdf.extract(new byte[0], filled(22, 0x0b));
        assertEquals("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04", HEX.formatHex(prk));
        assertEquals(
                "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
                HEX.formatHex(Hkdf.expand(prk, new byte[0], 42)));
        assertThrows(IllegalArgumentException.class, () -> Hkdf.expand(new byte[32], new byte[0], 0));
        assertThrows(IllegalArgumentException.class, () -> Hkdf.expand(new byte[32], new byte[0], 255 * 32 + 1));
    }

    static String hex(SharedToken.SessionKeys k, boolean sourceToDestination) {
        return HEX.formatHex((sourceToDestination ? k.sourceToDestination() : k.destinationToSource()).getEncoded());
    }

    @Test
    void bothSidesDeriveTheSameKeysAndEachDirectionItsOwn() {
        byte[] s = filled(32, 1);
        byte[] d = filled(32, 2);
        byte[] transcript = range(0, 90);
        SharedToken.SessionKeys a = TOKEN.sessionKeys(s, d, transcript);
        SharedToken.SessionKeys b = SharedToken.of("session-keys-test-token").sessionKeys(s, d, transcript);
        assertEquals(hex(a, true), hex(b, true));
        assertEquals(hex(a, false), hex(b, false));
        assertFalse(hex(a, true).equals(hex(a, false)), "one key per direction");
        assertEquals("AES", a.sourceToDestination().getAlgorithm());
        assertEquals(SharedToken.KEY_BYTES, a.sourceToDestination().getEncoded().length);
        assertEquals("SessionKeys(AES-256, one per direction)", a.toString(), "keys are never printed");
    }

    @Test
    void everySessionGetsNewKeys() {
        Random r = new Random(7);
        byte[] transcript = range(0, 90);
        Set<String> keys = new HashSet<>();
        byte[] fixedSource = new byte[32];
        r.nextBytes(fixedSource);
        for (int session = 0; session < 50; session++) {
            byte[] s = new byte[32];
            byte[] d = new byte[32];
            r.nextBytes(s);
            r.nextBytes(d);
            // Either side's fresh nonce alone is enough: a replayed or fixed nonce of the other side changes nothing.
            for (SharedToken.SessionKeys k :
                    List.of(TOKEN.sessionKeys(s, d, transcript), TOKEN.sessionKeys(fixedSource, d, transcript))) {
                keys.add(hex(k, true));
                keys.add(hex(k, false));
            }
        }
        assertEquals(200, keys.size(), "no key twice, in any session or direction");
    }

    @Test
    void keysAreBoundToTokenNoncesAndTranscript() {
        byte[] s = filled(32, 1);
        byte[] d = filled(32, 2);
        byte[] transcript = range(0, 90);
        String base = hex(TOKEN.sessionKeys(s, d, transcript), true);
        assertFalse(base.equals(hex(SharedToken.of("another-token-of-16").sessionKeys(s, d, transcript), true)));
        assertFalse(base.equals(hex(TOKEN.sessionKeys(d, s, transcript), true)), "the nonces' roles count");
        byte[] changed = transcript.clone();
        changed[7] ^= 1; // e.g. a flag of the HELLO flipped on the way
        assertFalse(base.equals(hex(TOKEN.sessionKeys(s, d, changed), true)));
        assertArrayEquals(
                TOKEN.sessionKeys(s, d, transcript).sourceToDestination().getEncoded(),
                TOKEN.sessionKeys(s.clone(), d.clone(), transcript.clone())
                        .sourceToDestination()
                        .getEncoded());
    }
}
