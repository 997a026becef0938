package io.drafter.migration.source;

import io.drafter.migration.protocol.Frame;

/** What the source's agent writes next: a frame as it is, or a block it reads, encodes and sends. */
sealed interface Outgoing {
    /** A frame built already: DIRTY, AUTHORITY, GRANT or PING. */
    record Control(Frame frame) implements Outgoing {}

    /** Block {@code block} of device {@code device}; {@code priority}: the destination asked for it (NEED). */
    record Block(int device, long block, boolean priority) implements Outgoing {}
}
