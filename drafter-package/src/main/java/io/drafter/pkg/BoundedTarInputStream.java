package io.drafter.pkg;

import java.io.IOException;
import java.io.InputStream;
import java.util.HexFormat;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * A tar reader that bounds what an archive can make it hold in memory or recurse through. commons-compress reads
 * the content of PAX headers ({@code x}, {@code g}) and GNU long names ({@code L}, {@code K}) into memory whatever
 * size they declare, keeps global PAX headers for the rest of the archive, and recurses once per header before
 * an entry; a small compressed archive can declare gigabytes of them. So:
 *
 * <ul>
 *   <li>the header content before one entry (PAX records, long names) is at most {@link #MAX_HEADER_BYTES}
 *       together — a path is at most 4 KiB on Linux, an extended attribute value 64 KiB;
 *   <li>global PAX headers are at most {@link #MAX_GLOBAL_HEADER_BYTES} for the whole archive;
 *   <li>at most {@link #MAX_HEADER_RECORDS} header records come before one entry;
 *   <li>the archive has at most the number of entries the caller gives.
 * </ul>
 *
 * Each bound fails the read with a {@link LimitException} naming the entry and the limit; callers add the file. A
 * malformed header fails it with commons-compress's {@link IOException}, whose message is put on one line when it
 * quotes a name with control characters.
 * Entry data is not bounded here (it is streamed, never held). Not thread-safe, like any stream.
 */
public class BoundedTarInputStream extends TarArchiveInputStream {
    private static final HexFormat HEX = HexFormat.of();
    /** Header content (PAX records, GNU long names) before one entry, together. */
    public static final int MAX_HEADER_BYTES = 1 << 20;
    /** Global PAX headers of the whole archive, together: they apply to every later entry. */
    public static final int MAX_GLOBAL_HEADER_BYTES = 1 << 20;
    /** Header records (PAX, long-name, old GNU sparse extensions) before one entry. */
    public static final int MAX_HEADER_RECORDS = 256;

    private static final int TYPE_OFFSET = 156;

    /** A bound of this reader was exceeded; the message names the entry and the limit. */
    public static final class LimitException extends IOException {
        LimitException(String message) {
            super(message);
        }
    }

    private final long maxEntries;
    private long entries;
    private int depth;
    private int records;
    private long headerBytes;
    private long globalBytes;
    /** Type of the header whose content is being read ({@code x}, {@code g}, {@code L}, ...), 0 if none. */
    private byte headerType;

    /** Reads {@code in}, refusing archives with more than {@code maxEntries} entries. */
    public BoundedTarInputStream(InputStream in, long maxEntries) {
        super(in);
        this.maxEntries = maxEntries;
    }

    @Override
    public TarArchiveEntry getNextEntry() throws IOException {
        // commons-compress calls this recursively after each PAX / long-name header
        if (depth == 0) {
            records = 0;
            headerBytes = 0;
            headerType = 0;
        }
        TarArchiveEntry entry;
        depth++;
        try {
            entry = super.getNextEntry();
        } catch (IOException e) {
            String m = e.getMessage();
            if (depth > 1
                    || e instanceof LimitException
                    || m == null
                    || printable(m, m.length()).equals(m)) {
                throw e;
            }
            // commons-compress quotes entry names raw: their newlines would split the error into lines
            throw new IOException(printable(m, 300), e);
        } finally {
            depth--;
        }
        if (depth == 0) {
            headerType = 0;
            if (entry != null && ++entries > maxEntries) {
                throw new LimitException("the archive has more than " + maxEntries + " entries (the limit)");
            }
        }
        return entry;
    }

    @Override
    protected byte[] readRecord() throws IOException {
        byte[] record = super.readRecord();
        if (depth > 0) {
            if (++records > MAX_HEADER_RECORDS) {
                throw new LimitException("tar entry " + (entries + 1) + " has more than " + MAX_HEADER_RECORDS
                        + " header records (the limit)");
            }
            byte type = record == null ? 0 : record[TYPE_OFFSET];
            headerType = type == 'x' || type == 'X' || type == 'g' || type == 'L' || type == 'K' ? type : 0;
        }
        return record;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
        int n = super.read(buf, off, len);
        if (depth > 0 && headerType != 0 && n > 0) {
            headerBytes += n;
            if (headerBytes > MAX_HEADER_BYTES) {
                throw new LimitException("the headers of tar entry " + (entries + 1)
                        + " (PAX records, long names) exceed the limit of " + (MAX_HEADER_BYTES >> 20) + " MiB");
            }
            if (headerType == 'g' && (globalBytes += n) > MAX_GLOBAL_HEADER_BYTES) {
                throw new LimitException(
                        "the global PAX headers exceed the limit of " + (MAX_GLOBAL_HEADER_BYTES >> 20) + " MiB");
            }
        }
        return n;
    }

    /**
     * A name from an archive (an entry, a link target, a header key) as errors quote it: a name can be up to 1 MiB and
     * hold any byte but NUL, so only its first 100 characters, on one readable line (control characters escaped).
     */
    public static String printable(String name) {
        return printable(name, 100);
    }

    private static String printable(String text, int maxChars) {
        String start = text.length() > maxChars ? text.substring(0, maxChars) : text;
        StringBuilder out = new StringBuilder(start.length() + 1);
        start.codePoints().forEach(c -> {
            if (Character.isISOControl(c) || Character.getType(c) == Character.FORMAT) {
                // no Formatter per character: an error about a hostile name stays cheap
                out.append(c <= 0xFFFF ? "\\u" + HEX.toHexDigits((char) c) : "\\U" + HEX.toHexDigits(c));
            } else {
                out.appendCodePoint(c);
            }
        });
        return text.length() > maxChars ? out.append('…').toString() : out.toString();
    }
}
