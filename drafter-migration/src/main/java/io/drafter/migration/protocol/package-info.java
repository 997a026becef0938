/**
 * The migration wire protocol: frames as sealed records, their codec, and the stream reader and writer.
 *
 * <p>All integers are big-endian (network order). A connection carries a sequence of frames, each:
 *
 * <pre>
 * | field   | offset | size    | meaning                                                        |
 * |---------|--------|---------|----------------------------------------------------------------|
 * | length  | 0      | 4       | bytes that follow (type + payload), 1 .. {@value FrameCodec#MAX_FRAME_BYTES} (sealed: below) |
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
 * authentication (and, without TLS, sealed frames), bit 2 = serve-only source (a registry: it never runs what it serves
 * and the data never changes; HELLO only), bit 3 = copy only (HELLO_REPLY only: the destination keeps a copy and never
 * runs it, a live backup; the source resumes its writers once it wrote the GRANT and stays the owner, and COMPLETED
 * means the copy is kept). Like every flag they are covered by the sealed frames' keys. The version is {@value
 * FrameCodec#VERSION} (3: frames sealed after the token proofs; 2 sent them in clear). Device indexes are positions in
 * DEVICE_GROUP. Session
 * order: HELLO, HELLO_REPLY, (AUTH_PROOF D→S, which the source checks before it sends AUTH_PROOF S→D, when a token is
 * used: the dialling side proves first, so a client without the token never receives the source's proof),
 * DEVICE_GROUP, GROUP_ACCEPTED; then data (BLOCK/ZERO/DIRTY) with NEED and CREDIT flowing back; AUTHORITY after the
 * final DIRTY of every device; AUTHORITY_ACK; TAKEOVER when the destination is ready to run; the rest of the final
 * blocks (requested ones first), then GRANT; COMPLETED when the destination runs. On one connection frames arrive in
 * the order they were sent, so a DIRTY list always precedes the data that re-sends its blocks, and the GRANT follows
 * every block: a destination that read it holds every block. A serve-only source sends AUTHORITY right after
 * GROUP_ACCEPTED (no DIRTY lists: nothing changes) and then every block, requested ones first; the destination may run
 * on its copy from the moment it sends TAKEOVER, fetching what it reads with NEED, and reports COMPLETED after the
 * GRANT, which still follows the last block. Nothing moves back to a registry, so nothing there is uncertain. For
 * every other source: the source owns the devices until it writes the GRANT,
 * the destination from the moment it reads it; in between the hand-over is uncertain, and the source never resumes
 * on its own. An ERROR ABORTED from the destination after the GRANT means that it did not run the VM.
 *
 * <p><b>Sealed frames.</b> With a shared token over a connection that TLS does not protect, every frame a side sends
 * after its own AUTH_PROOF is sealed ({@link io.drafter.migration.protocol.FrameCipher}, AES-256-GCM); inside TLS,
 * TLS protects the frames and they go as above. In clear travel only HELLO, HELLO_REPLY and the two AUTH_PROOFs, plus
 * what a side sends before its own proof: an ERROR refusing the handshake (version, magic, token flag, the source
 * refusing the destination's proof) and a PING of a destination that waits. So the source's frames are sealed from
 * DEVICE_GROUP (or a BUSY ERROR) on, the destination's from the frame after its proof on (GROUP_ACCEPTED, or an ERROR),
 * and from the moment the destination has verified the source's proof every frame either way is sealed. A sealed
 * frame:
 *
 * <pre>
 * | field      | offset      | size        | meaning                                                          |
 * |------------|-------------|-------------|------------------------------------------------------------------|
 * | length     | 0           | 4           | bytes that follow: 1 + payload + 16, 17 .. {@value FrameCodec#MAX_FRAME_BYTES} + 16 |
 * | ciphertext | 4           | length - 16 | the frame's type and payload (layouts above), AES-256-GCM encrypted |
 * | tag        | length - 12 | 16          | GCM tag over the length prefix (as AAD) and the ciphertext      |
 * </pre>
 *
 * <p>Nonce: 4 zero bytes, then the u64 counter of the frame in its direction, from 0 for the first sealed frame. Keys:
 * one per direction, HKDF-SHA256 (RFC 5869) with the token as input key material, salt = nonce S | nonce D, info =
 * {@code "drafter-migration-v3 frame key source to destination"} (or {@code "... destination to source"}) | the HELLO
 * and HELLO_REPLY frames as sent (length prefixes included), 32 bytes ({@link
 * io.drafter.migration.transport.SharedToken#sessionKeys}). The receiver opens each frame with its next counter only:
 * a frame changed (length prefix included), replayed, reordered, injected or missing fails to open, an ERROR
 * AUTH_FAILED {@code could not authenticate frame N from PEER: ...} goes back (sealed) and the session ends. A
 * HELLO changed on the way gives the two sides different keys, so its first sealed frame fails the same way.
 *
 * <p>Every decoder checks each length and value against the frame it came in and the bounds above; a malformed frame
 * becomes a {@link io.drafter.migration.protocol.ProtocolException} (never another exception), the receiver answers
 * with an ERROR frame and closes. No buffer is sized by a field beyond {@value FrameCodec#MAX_FRAME_BYTES} bytes, and
 * until the peer is authenticated not beyond {@value FrameCodec#UNAUTHENTICATED_FRAME_BYTES}.
 */
package io.drafter.migration.protocol;
