/**
 * The migration wire protocol: frames as sealed records, their codec, and the stream reader and writer.
 *
 * <p>All integers are big-endian (network order). A connection carries a sequence of frames, each:
 *
 * <pre>
 * | field   | offset | size    | meaning                                                        |
 * |---------|--------|---------|----------------------------------------------------------------|
 * | length  | 0      | 4       | bytes that follow (type + payload), 1 .. {@value FrameCodec#MAX_FRAME_BYTES} |
 * | type    | 4      | 1       | frame type, table below                                         |
 * | payload | 5      | len - 1 | layout per type                                                 |
 * </pre>
 *
 * <p>Frame types (S = source, D = destination):
 *
 * <pre>
 * | type | name           | dir  | payload                                                                  |
 * |------|----------------|------|--------------------------------------------------------------------------|
 * | 0x01 | HELLO          | S→D  | u32 magic 0x44524654 "DRFT", u16 version, u16 flags, 32 B nonce          |
 * | 0x02 | HELLO_REPLY    | D→S  | u32 magic, u16 version, u16 flags (accepted), 32 B nonce                 |
 * | 0x03 | AUTH_PROOF     | both | 32 B HMAC-SHA256(token, role label | nonce S | nonce D)                  |
 * | 0x04 | DEVICE_GROUP   | S→D  | u16 count, count × {u16 nameLen, name UTF-8, u64 sizeBytes, u32 blockSizeBytes} |
 * | 0x05 | GROUP_ACCEPTED | D→S  | u32 initial credit (data frames in flight per device)                    |
 * | 0x10 | BLOCK          | S→D  | u16 device, u64 block, u8 encoding (0 raw, 1 zstd), u32 rawLength, data  |
 * | 0x11 | ZERO           | S→D  | u16 device, u64 first block, u32 count: these blocks are all zero        |
 * | 0x12 | DIRTY          | S→D  | u16 device, u32 round, u8 final, u32 count, count × u64 block            |
 * | 0x13 | NEED           | D→S  | u16 device, u64 block: a reader waits for it, send it first             |
 * | 0x14 | CREDIT         | D→S  | u16 device, u32 frames: that many more data frames may be sent          |
 * | 0x20 | AUTHORITY      | S→D  | u32 length, payload (≤ {@value FrameCodec#MAX_AUTHORITY_PAYLOAD} B): final dirty lists sent; prepare |
 * | 0x21 | AUTHORITY_ACK  | D→S  | (empty): every final dirty list applied (informational)                 |
 * | 0x22 | COMPLETED      | D→S  | (empty): the destination runs on the devices; the source may stop       |
 * | 0x23 | TAKEOVER       | D→S  | (empty): ready to run (state loaded); asks for the grant                |
 * | 0x24 | GRANT          | S→D  | (empty): the destination may run; sent after every remaining block      |
 * | 0x30 | PING           | both | u64 sender's clock (keeps the no-progress watchdog quiet when idle)      |
 * | 0x7F | ERROR          | both | u16 code ({@link io.drafter.migration.protocol.ErrorCode}), u16 length, UTF-8 message (≤ 1024 B) |
 * </pre>
 *
 * <p>HELLO flags: bit 0 = zstd compression wanted (the reply says whether it is used), bit 1 = shared-token
 * authentication. The version is {@value FrameCodec#VERSION}. Device indexes are positions in DEVICE_GROUP. Session
 * order: HELLO, HELLO_REPLY, (AUTH_PROOF D→S, which the source checks before it sends AUTH_PROOF S→D, when a token is
 * used: the dialling side proves first, so a client without the token never receives the source's proof),
 * DEVICE_GROUP, GROUP_ACCEPTED; then data (BLOCK/ZERO/DIRTY) with NEED and CREDIT flowing back; AUTHORITY after the
 * final DIRTY of every device; AUTHORITY_ACK; TAKEOVER when the destination is ready to run; the rest of the final
 * blocks (requested ones first), then GRANT; COMPLETED when the destination runs. On one connection frames arrive in
 * the order they were sent, so a DIRTY list always precedes the data that re-sends its blocks, and the GRANT follows
 * every block: a destination that read it holds every block. The source owns the devices until it writes the GRANT,
 * the destination from the moment it reads it; in between the hand-over is uncertain, and the source never resumes
 * on its own. An ERROR ABORTED from the destination after the GRANT means that it did not run the VM.
 *
 * <p>Every decoder checks each length and value against the frame it came in and the bounds above; a malformed frame
 * becomes a {@link io.drafter.migration.protocol.ProtocolException} (never another exception), the receiver answers
 * with an ERROR frame and closes. No buffer is sized by a field beyond {@value FrameCodec#MAX_FRAME_BYTES} bytes, and
 * until the peer is authenticated not beyond {@value io.drafter.migration.Handshake#UNAUTHENTICATED_FRAME_BYTES}.
 */
package io.drafter.migration.protocol;
