package io.drafter.fuzz;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;

/**
 * Byte-level mutations of an input, AFL-style: bit flips, random bytes, inserted and deleted runs, copied runs,
 * splices with another input, interesting integers (either byte order), small additions to 16- and 32-bit fields (the
 * length prefixes), interesting numbers written over ASCII digits (tar's octal fields, PAX record lengths, JSON), and
 * tokens of the format's dictionary. One call applies one to four of them.
 *
 * <p>Deterministic for a given generator state. Not thread-safe (it holds no state, but the generator is shared).
 */
public final class Mutator {
    private static final long[] INTERESTING = {
        0,
        1,
        2,
        7,
        8,
        16,
        32,
        64,
        100,
        127,
        128,
        255,
        256,
        511,
        512,
        1000,
        1023,
        1024,
        4095,
        4096,
        32767,
        32768,
        65535,
        65536,
        1L << 20,
        4L << 20,
        (4L << 20) + 64,
        16L << 20,
        Integer.MAX_VALUE,
        1L << 31,
        0xFFFF_FFFFL,
        1L << 32,
        1L << 50,
        Long.MAX_VALUE,
        -1,
        -2,
        -128,
        -129,
        -32768,
        Integer.MIN_VALUE,
        Long.MIN_VALUE
    };
    private static final String[] INTERESTING_TEXT = {
        "0",
        "1",
        "-1",
        "7",
        "8",
        "511",
        "512",
        "777",
        "0777",
        "4096",
        "65536",
        "99999999999",
        "77777777777",
        "18446744073709551616",
        "9223372036854775807",
        "-9223372036854775808",
        "1e400",
        "0.5",
        "NaN"
    };

    private final int maxBytes;
    private final List<byte[]> dictionary;

    /**
     * @param maxBytes the longest input produced
     * @param dictionary tokens of the format (field names, keywords, magic numbers) inserted or written over the input
     */
    public Mutator(int maxBytes, List<String> dictionary) {
        this.maxBytes = maxBytes;
        this.dictionary =
                dictionary.stream().map(s -> s.getBytes(StandardCharsets.UTF_8)).toList();
    }

    /** A mutant of {@code input}; {@code others} feed the splices. */
    public byte[] mutate(byte[] input, List<byte[]> others, RandomGenerator r) {
        byte[] b = input;
        int rounds = 1 + r.nextInt(4);
        for (int i = 0; i < rounds; i++) {
            b = once(b, others, r);
        }
        return b.length > maxBytes ? Arrays.copyOf(b, maxBytes) : b;
    }

    private byte[] once(byte[] b, List<byte[]> others, RandomGenerator r) {
        if (b.length == 0) {
            return randomBytes(1 + r.nextInt(16), r);
        }
        int at = r.nextInt(b.length);
        switch (r.nextInt(dictionary.isEmpty() ? 10 : 11)) {
            case 0 -> {
                b = b.clone();
                b[at] ^= (byte) (1 << r.nextInt(8));
            }
            case 1 -> {
                b = b.clone();
                b[at] = (byte) r.nextInt(256);
            }
            case 2 -> b = insert(b, at, randomBytes(1 + r.nextInt(r.nextBoolean() ? 4 : 64), r));
            case 3 -> {
                int len = Math.min(b.length - at, 1 + r.nextInt(r.nextBoolean() ? 4 : 256));
                b = remove(b, at, len);
            }
            case 4 -> {
                int from = r.nextInt(b.length);
                int len = Math.min(b.length - from, 1 + r.nextInt(64));
                b = insert(b, at, Arrays.copyOfRange(b, from, from + len));
            }
            case 5 -> {
                byte[] other = others.isEmpty() ? b : others.get(r.nextInt(others.size()));
                int cut = other.length == 0 ? 0 : r.nextInt(other.length);
                byte[] spliced = Arrays.copyOf(b, at + other.length - cut);
                System.arraycopy(other, cut, spliced, at, other.length - cut);
                b = spliced;
            }
            case 6 -> b = overwriteInteger(b, at, INTERESTING[r.nextInt(INTERESTING.length)], r);
            case 7 -> b = addToField(b, at, r);
            case 8, 9 -> b = overwriteNumberText(b, at, r);
            default -> {
                byte[] token = dictionary.get(r.nextInt(dictionary.size()));
                if (r.nextBoolean()) {
                    b = insert(b, at, token);
                } else {
                    b = b.clone();
                    System.arraycopy(token, 0, b, at, Math.min(token.length, b.length - at));
                }
            }
        }
        return b;
    }

    private static byte[] overwriteInteger(byte[] b, int at, long value, RandomGenerator r) {
        int width = 1 << r.nextInt(4); // 1, 2, 4 or 8 bytes
        if (at + width > b.length) {
            return b;
        }
        ByteBuffer buf =
                ByteBuffer.wrap(b.clone()).order(r.nextBoolean() ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        switch (width) {
            case 1 -> buf.put(at, (byte) value);
            case 2 -> buf.putShort(at, (short) value);
            case 4 -> buf.putInt(at, (int) value);
            default -> buf.putLong(at, value);
        }
        return buf.array();
    }

    /** Adds -16..16 to a 16- or 32-bit field: a length prefix a little off. */
    private static byte[] addToField(byte[] b, int at, RandomGenerator r) {
        boolean wide = r.nextBoolean();
        int width = wide ? 4 : 2;
        if (at + width > b.length) {
            return b;
        }
        ByteBuffer buf =
                ByteBuffer.wrap(b.clone()).order(r.nextBoolean() ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        int delta = r.nextInt(33) - 16;
        if (wide) {
            buf.putInt(at, buf.getInt(at) + delta);
        } else {
            buf.putShort(at, (short) (buf.getShort(at) + delta));
        }
        return buf.array();
    }

    /** Replaces the run of ASCII digits at or after {@code at} with an interesting number. */
    private static byte[] overwriteNumberText(byte[] b, int at, RandomGenerator r) {
        int start = at;
        while (start < b.length && (b[start] < '0' || b[start] > '9')) {
            start++;
        }
        if (start == b.length) {
            return b;
        }
        int end = start;
        while (end < b.length && b[end] >= '0' && b[end] <= '9') {
            end++;
        }
        byte[] number = INTERESTING_TEXT[r.nextInt(INTERESTING_TEXT.length)].getBytes(StandardCharsets.US_ASCII);
        if (r.nextBoolean()) {
            // same width (tar's fixed fields): cut or pad with leading zeros
            byte[] fixed = new byte[end - start];
            Arrays.fill(fixed, (byte) '0');
            int n = Math.min(number.length, fixed.length);
            System.arraycopy(number, number.length - n, fixed, fixed.length - n, n);
            number = fixed;
        }
        byte[] out = new byte[b.length - (end - start) + number.length];
        System.arraycopy(b, 0, out, 0, start);
        System.arraycopy(number, 0, out, start, number.length);
        System.arraycopy(b, end, out, start + number.length, b.length - end);
        return out;
    }

    private static byte[] insert(byte[] b, int at, byte[] bytes) {
        byte[] out = new byte[b.length + bytes.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(bytes, 0, out, at, bytes.length);
        System.arraycopy(b, at, out, at + bytes.length, b.length - at);
        return out;
    }

    private static byte[] remove(byte[] b, int at, int len) {
        byte[] out = new byte[b.length - len];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(b, at + len, out, at, b.length - at - len);
        return out;
    }

    private static byte[] randomBytes(int n, RandomGenerator r) {
        byte[] out = new byte[n];
        r.nextBytes(out);
        return out;
    }
}
