package io.drafter.pkg;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes tar archives header by header, so that tests can build what no well-behaved writer does: huge PAX or
 * long-name headers, long chains of headers, many global headers. Ustar headers, sizes below 8 GiB.
 */
public final class RawTar {
    private static final int BLOCK = 512;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    /** A header of {@code type} for {@code name} followed by {@code content}, padded to a whole block. */
    public RawTar entry(String name, char type, byte[] content) {
        byte[] h = new byte[BLOCK];
        put(h, 0, 100, name.getBytes(StandardCharsets.UTF_8));
        octal(h, 100, 8, 0644);
        octal(h, 108, 8, 0);
        octal(h, 116, 8, 0);
        octal(h, 124, 12, content.length);
        octal(h, 136, 12, 1_700_000_000L);
        h[156] = (byte) type;
        put(h, 257, 6, "ustar\0".getBytes(StandardCharsets.US_ASCII));
        put(h, 263, 2, "00".getBytes(StandardCharsets.US_ASCII));
        for (int i = 148; i < 156; i++) {
            h[i] = ' ';
        }
        long sum = 0;
        for (byte b : h) {
            sum += b & 0xff;
        }
        octal(h, 148, 7, sum);
        out.writeBytes(h);
        out.writeBytes(content);
        out.writeBytes(new byte[(BLOCK - content.length % BLOCK) % BLOCK]);
        return this;
    }

    /** A regular file. */
    public RawTar file(String name, String content) {
        return entry(name, '0', content.getBytes(StandardCharsets.UTF_8));
    }

    /** A PAX header ({@code x} for the next entry, {@code g} for all later ones) of the given records. */
    public RawTar pax(char type, byte[]... records) {
        ByteArrayOutputStream content = new ByteArrayOutputStream();
        for (byte[] r : records) {
            content.writeBytes(r);
        }
        return entry("PaxHeaders/h", type, content.toByteArray());
    }

    /** The archive, ended by two zero blocks. */
    public byte[] finish() {
        out.writeBytes(new byte[2 * BLOCK]);
        return out.toByteArray();
    }

    /** One PAX record, {@code <length> <key>=<value>\n}, the length counting its own digits. */
    public static byte[] record(String key, byte[] value) {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        int rest = 1 + k.length + 1 + value.length + 1;
        int len = rest + Integer.toString(rest).length();
        if (Integer.toString(len).length() != Integer.toString(rest).length()) {
            len++;
        }
        ByteArrayOutputStream r = new ByteArrayOutputStream();
        r.writeBytes((len + " " + key + "=").getBytes(StandardCharsets.UTF_8));
        r.writeBytes(value);
        r.write('\n');
        return r.toByteArray();
    }

    /** {@code n} bytes of {@code c}. */
    public static byte[] filled(int n, char c) {
        byte[] b = new byte[n];
        java.util.Arrays.fill(b, (byte) c);
        return b;
    }

    private static void put(byte[] h, int off, int len, byte[] v) {
        System.arraycopy(v, 0, h, off, Math.min(len, v.length));
    }

    private static void octal(byte[] h, int off, int len, long v) {
        String s = Long.toOctalString(v);
        String padded = "0".repeat(len - 1 - s.length()) + s;
        put(h, off, len - 1, padded.getBytes(StandardCharsets.US_ASCII));
        h[off + len - 1] = 0;
    }
}
