/**
 * Connections for migration: plain TCP (only when asked for explicitly), TLS 1.3 with mutual authentication from PEM
 * files, and the shared-token proof used inside the protocol handshake.
 *
 * <p>Security options, strongest first: TLS with mutual authentication (each side presents a certificate chain signed
 * by a CA the other trusts) optionally plus a token; a token over plain TCP (authenticates both peers before any
 * device data, but the data is not encrypted); plain TCP without a token (only with an explicit opt-in).
 */
package io.drafter.migration.transport;
