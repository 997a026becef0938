/**
 * Live migration of a group of block devices from a source peer to a destination peer: pre-copy (full copy, dirty
 * rounds), a final sync while the destination prepares (fetching what it reads first), and a hand-over in which the
 * destination runs only with the source's grant, sent behind every block.
 *
 * <p>Entry points: {@link io.drafter.migration.source.MigrationSource#start} and {@link
 * io.drafter.migration.destination.MigrationDestination#accept}. The wire format lives in {@link
 * io.drafter.migration.protocol}, connections and their security in {@link io.drafter.migration.transport}.
 */
package io.drafter.migration;
