/**
 * The engines' shared parts, not API: the connection as an engine holds it ({@link
 * io.drafter.migration.internal.Link}), the session opening ({@link io.drafter.migration.internal.Handshake}), the
 * no-progress watchdog, the phase machine both engines run, and the block encoder and decoder. Only the source and
 * destination packages of this module use them; a module descriptor must not export this package.
 */
package io.drafter.migration.internal;
