package io.drafter.migration.protocol;

/** The typed reasons an ERROR frame carries, with their wire values. */
public enum ErrorCode {
    /** A frame could not be decoded or broke a bound. */
    MALFORMED_FRAME(1),
    /** The peer speaks another protocol version. */
    UNSUPPORTED_VERSION(2),
    /** The first bytes were not a HELLO of this protocol. */
    BAD_MAGIC(3),
    /** The shared token did not match, only one side uses one, or a sealed frame could not be authenticated. */
    AUTH_FAILED(4),
    /** The device group does not match what the destination expects. */
    DEVICE_MISMATCH(5),
    /** A well-formed frame arrived in a phase where it is not allowed. */
    UNEXPECTED_FRAME(6),
    /** The peer sent more data frames than it had credit for. */
    FLOW_CONTROL(7),
    /** Reading or writing a device failed. */
    STORAGE_ERROR(8),
    /** No frame arrived within the no-progress timeout. */
    TIMEOUT(9),
    /**
     * The peer gave up on purpose. Sent by a destination after the grant it means "I did not run the VM": the source
     * may take it back.
     */
    ABORTED(10),
    /** The source serves another migration; try again when it ended. */
    BUSY(11),
    /** A code this version does not know. */
    OTHER(0xFFFF);

    private final int wire;

    ErrorCode(int wire) {
        this.wire = wire;
    }

    /** The value on the wire. */
    public int wire() {
        return wire;
    }

    /** The code for a wire value; unknown values become {@link #OTHER} (a newer peer may send new codes). */
    public static ErrorCode fromWire(int value) {
        for (ErrorCode c : values()) {
            if (c.wire == value) {
                return c;
            }
        }
        return OTHER;
    }
}
