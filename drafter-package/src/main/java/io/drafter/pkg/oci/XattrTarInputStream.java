package io.drafter.pkg.oci;

import static io.drafter.pkg.BoundedTarInputStream.printable;

import io.drafter.pkg.BoundedTarInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;

/**
 * A tar reader that also gives the extended attributes of each entry with their exact bytes.
 *
 * <p>Tar writers store an attribute in a PAX header, as {@code SCHILY.xattr.<name>=<raw value>} (GNU tar,
 * Go's archive/tar, so Docker and BuildKit) and/or {@code LIBARCHIVE.xattr.<url-encoded name>=<base64
 * value>} (bsdtar). Raw values are binary (a {@code security.capability} blob, an ACL), but commons-compress
 * decodes every PAX value as UTF-8, which replaces bytes that are not UTF-8 (e.g. {@code 0x80} in the
 * capability blob of {@code cap_setuid}) and cannot be undone. So this reader keeps a copy of the bytes of
 * the PAX header entries it reads ({@code x}, {@code X}, {@code g}) and parses those itself, applying them
 * the way commons-compress does (a global header applies to all later entries). Every attribute is checked against what commons-compress decoded, so a change in how it reads the
 * headers fails the unpack instead of dropping attributes.
 *
 * <p>What a header can make this reader hold is bounded ({@link BoundedTarInputStream}: 1 MiB of headers per
 * entry); an attribute larger than Linux allows (a name over 255 bytes, a value over 64 KiB) is refused here
 * rather than by {@code lsetxattr}. Not thread-safe, like any stream.
 */
final class XattrTarInputStream extends BoundedTarInputStream {
    static final String SCHILY = "SCHILY.xattr.";
    static final String LIBARCHIVE = "LIBARCHIVE.xattr.";
    /** Linux's XATTR_NAME_MAX: the longest attribute name, in bytes. */
    static final int MAX_XATTR_NAME_BYTES = 255;
    /** Linux's XATTR_SIZE_MAX: the largest attribute value. */
    static final int MAX_XATTR_VALUE_BYTES = 64 << 10;

    private static final int TYPE_OFFSET = 156;

    private int depth;
    private boolean expectHeader;
    private ByteArrayOutputStream capture;
    private byte captureType;
    private final List<Map<String, byte[]>> locals = new ArrayList<>();
    private Map<String, byte[]> global = new HashMap<>();
    private Map<String, byte[]> current = Map.of();

    /** Reads the tar {@code in} of at most {@code maxEntries} entries. */
    XattrTarInputStream(InputStream in, long maxEntries) {
        super(in, maxEntries);
    }

    @Override
    public TarArchiveEntry getNextEntry() throws IOException {
        // commons-compress calls this recursively after each PAX / long-name header
        if (depth == 0) {
            expectHeader = true;
            capture = null;
            locals.clear();
            current = Map.of();
        }
        TarArchiveEntry entry;
        depth++;
        try {
            entry = super.getNextEntry();
        } finally {
            depth--;
        }
        if (depth == 0) {
            endSegment();
            expectHeader = false;
            current = entryHeaders();
        }
        return entry;
    }

    @Override
    protected byte[] readRecord() throws IOException {
        byte[] record = super.readRecord();
        if (depth > 0) {
            endSegment();
            if (expectHeader && record != null) {
                byte type = record[TYPE_OFFSET];
                boolean pax = type == 'x' || type == 'X' || type == 'g';
                expectHeader = pax || type == 'L' || type == 'K'; // a header that the entry's header follows
                if (pax) {
                    capture = new ByteArrayOutputStream();
                    captureType = type;
                }
            } else {
                expectHeader = false; // an old GNU sparse extension or the second end-of-archive record
            }
        }
        return record;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
        int n = super.read(buf, off, len);
        if (capture != null && n > 0) {
            capture.write(buf, off, n); // bounded by BoundedTarInputStream.read, which threw otherwise
        }
        return n;
    }

    private void endSegment() throws IOException {
        if (capture == null) {
            return;
        }
        byte[] content = capture.toByteArray();
        capture = null;
        Map<String, byte[]> merged = applyRecords(global, content);
        if (captureType == 'g') {
            global = merged;
        } else {
            locals.add(merged);
        }
    }

    /**
     * The headers of the entry just read, as commons-compress applies them: the global headers first (so a
     * local empty value cannot delete one), then the local PAX headers, the innermost (last read) first.
     */
    private Map<String, byte[]> entryHeaders() {
        Map<String, byte[]> out = new HashMap<>(global);
        for (Map<String, byte[]> l : locals.reversed()) {
            out.putAll(l);
        }
        return out;
    }

    /** {@code base} plus the records {@code len SP key=value LF} in {@code content}; an empty value deletes. */
    static Map<String, byte[]> applyRecords(Map<String, byte[]> base, byte[] content) throws IOException {
        Map<String, byte[]> out = new HashMap<>(base);
        int pos = 0;
        while (pos < content.length && content[pos] != '\n' && content[pos] != 0) {
            int space = pos;
            long len = 0;
            while (space < content.length && content[space] >= '0' && content[space] <= '9' && len <= content.length) {
                len = len * 10 + (content[space++] - '0');
            }
            if (space == pos || space >= content.length || content[space] != ' ' || len > content.length - pos) {
                throw new IOException("malformed PAX header record at offset " + pos);
            }
            int end = pos + (int) len; // one past the record's newline
            int eq = space + 1;
            while (eq < end && content[eq] != '=') {
                eq++;
            }
            if (eq >= end || content[end - 1] != '\n') {
                throw new IOException("malformed PAX header record at offset " + pos);
            }
            String key = new String(content, space + 1, eq - space - 1, StandardCharsets.UTF_8);
            if (eq + 1 == end - 1) {
                out.remove(key);
            } else {
                out.put(key, Arrays.copyOfRange(content, eq + 1, end - 1));
            }
            pos = end;
        }
        return out;
    }

    /**
     * The extended attributes of the entry last returned by {@link #getNextEntry}, sorted by name.
     *
     * @throws IOException if a header is malformed (bad base64 or URL encoding, an empty name, a name
     *     given twice with different values) or differs from what commons-compress decoded
     */
    Map<String, byte[]> xattrs(TarArchiveEntry entry) throws IOException {
        Set<String> decoded = new TreeSet<>();
        for (Map.Entry<String, String> h : entry.getExtraPaxHeaders().entrySet()) {
            String key = h.getKey();
            if (key.startsWith(SCHILY) || key.startsWith(LIBARCHIVE)) {
                byte[] raw = current.get(key);
                if (raw == null || !new String(raw, StandardCharsets.UTF_8).equals(h.getValue())) {
                    throw new IOException("PAX header " + printable(key) + " could not be read exactly");
                }
                decoded.add(key);
            }
        }
        Map<String, byte[]> out = new TreeMap<>();
        for (Map.Entry<String, byte[]> h : current.entrySet()) {
            String key = h.getKey();
            String name;
            byte[] value;
            if (key.startsWith(SCHILY)) {
                name = key.substring(SCHILY.length());
                value = h.getValue();
            } else if (key.startsWith(LIBARCHIVE)) {
                name = urlDecode(key.substring(LIBARCHIVE.length()), key);
                try {
                    value = Base64.getDecoder().decode(h.getValue());
                } catch (IllegalArgumentException e) {
                    throw new IOException(
                            "PAX header " + printable(key) + " is not valid base64 (" + e.getMessage() + ")");
                }
            } else {
                continue;
            }
            if (!decoded.contains(key)) {
                throw new IOException("PAX header " + printable(key) + " was not seen by the tar reader");
            }
            if (name.isEmpty() || name.indexOf('\0') >= 0) {
                throw new IOException("PAX header " + printable(key) + " names no valid extended attribute");
            }
            int nameBytes = name.getBytes(StandardCharsets.UTF_8).length;
            if (nameBytes > MAX_XATTR_NAME_BYTES) {
                throw new IOException("extended attribute name of " + nameBytes + " bytes in PAX header "
                        + printable(key) + " exceeds the limit of " + MAX_XATTR_NAME_BYTES + " bytes");
            }
            if (value.length > MAX_XATTR_VALUE_BYTES) {
                throw new IOException("extended attribute " + printable(name) + " has a value of " + value.length
                        + " bytes, more than the limit of " + (MAX_XATTR_VALUE_BYTES >> 10) + " KiB");
            }
            byte[] other = out.putIfAbsent(name, value);
            if (other != null && !Arrays.equals(other, value)) {
                throw new IOException(
                        "extended attribute " + printable(name) + " is given twice with different values");
            }
        }
        return out;
    }

    /** Decodes {@code %XX} escapes (libarchive's encoding of attribute names; {@code +} is no space). */
    static String urlDecode(String s, String key) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] in = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < in.length; i++) {
            if (in[i] != '%') {
                out.write(in[i]);
                continue;
            }
            int hi = i + 2 < in.length ? Character.digit(in[i + 1], 16) : -1;
            int lo = hi >= 0 ? Character.digit(in[i + 2], 16) : -1;
            if (lo < 0) {
                throw new IOException("PAX header " + printable(key) + " has a bad %-escape in its name");
            }
            out.write(hi << 4 | lo);
            i += 2;
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
