/**
 * Live migration of a group of block devices from a source peer to a destination peer: hybrid pre-copy (full copy,
 * dirty rounds) and post-copy (the destination runs while the last blocks stream in, fetching what it reads first).
 *
 * <p>Entry points: {@link io.drafter.migration.source.MigrationSource#start} and {@link
 * io.drafter.migration.destination.MigrationDestination#accept}. The wire format lives in {@link
 * io.drafter.migration.protocol}, connections and their security in {@link io.drafter.migration.transport}.
 */
package io.drafter.migration;
