package io.drafter.net;

/**
 * An IPv4 prefix such as {@code 10.0.8.0/22}, with the address arithmetic the NAT layout needs.
 *
 * @param network the network address as an unsigned 32-bit value (host bits zero)
 * @param prefixLength 0..32
 */
public record Ipv4Cidr(int network, int prefixLength) {
    /** Validates and normalises: host bits must be zero. */
    public Ipv4Cidr {
        if (prefixLength < 0 || prefixLength > 32) {
            throw new IllegalArgumentException("prefix length " + prefixLength + " is not in 0..32");
        }
        if ((network & ~mask(prefixLength)) != 0) {
            throw new IllegalArgumentException(
                    formatAddress(network) + "/" + prefixLength + " has host bits set (network is "
                            + formatAddress(network & mask(prefixLength)) + "/" + prefixLength + ")");
        }
    }

    /** Parses {@code a.b.c.d/n}; throws {@link IllegalArgumentException} with a one-line reason otherwise. */
    public static Ipv4Cidr parse(String text) {
        int slash = text.indexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("'" + text + "' is not a CIDR (expected a.b.c.d/n)");
        }
        int length;
        try {
            length = Integer.parseInt(text.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' has no numeric prefix length");
        }
        return new Ipv4Cidr(parseAddress(text.substring(0, slash)), length);
    }

    /** Parses a dotted-quad IPv4 address into an unsigned 32-bit value. */
    public static int parseAddress(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv4 address");
        }
        int value = 0;
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit)) {
                throw new IllegalArgumentException("'" + text + "' is not an IPv4 address");
            }
            int octet = Integer.parseInt(p);
            if (octet > 255) {
                throw new IllegalArgumentException("'" + text + "' is not an IPv4 address");
            }
            value = (value << 8) | octet;
        }
        return value;
    }

    /** Formats an unsigned 32-bit value as a dotted quad. */
    public static String formatAddress(int address) {
        return ((address >>> 24) & 0xff) + "." + ((address >>> 16) & 0xff) + "." + ((address >>> 8) & 0xff) + "."
                + (address & 0xff);
    }

    /** Number of addresses in the prefix, including network and broadcast. */
    public long size() {
        return 1L << (32 - prefixLength);
    }

    /** Number of addresses usable by hosts (without network and broadcast for prefixes shorter than /31). */
    public long usableHosts() {
        return prefixLength >= 31 ? size() : size() - 2;
    }

    /** The {@code index}-th address (0 = the network address). */
    public int address(long index) {
        if (index < 0 || index >= size()) {
            throw new IllegalArgumentException("index " + index + " outside " + this);
        }
        return network + (int) index;
    }

    /** Whether {@code address} lies inside this prefix. */
    public boolean contains(int address) {
        return (address & mask(prefixLength)) == network;
    }

    /** Whether the two prefixes share at least one address. */
    public boolean overlaps(Ipv4Cidr other) {
        int shorter = Math.min(prefixLength, other.prefixLength);
        return (network & mask(shorter)) == (other.network & mask(shorter));
    }

    /** The {@code index}-th sub-prefix of length {@code length} (e.g. the n-th /30 of a /22). */
    public Ipv4Cidr subnet(int length, long index) {
        if (length < prefixLength) {
            throw new IllegalArgumentException("/" + length + " is larger than " + this);
        }
        long count = 1L << (length - prefixLength);
        if (index < 0 || index >= count) {
            throw new IllegalArgumentException(this + " has only " + count + " /" + length + " prefixes");
        }
        return new Ipv4Cidr(network + (int) (index << (32 - length)), length);
    }

    /** Number of sub-prefixes of length {@code length}. */
    public long subnetCount(int length) {
        return length < prefixLength ? 0 : 1L << (length - prefixLength);
    }

    @Override
    public String toString() {
        return formatAddress(network) + "/" + prefixLength;
    }

    private static int mask(int length) {
        return length == 0 ? 0 : -1 << (32 - length);
    }
}
