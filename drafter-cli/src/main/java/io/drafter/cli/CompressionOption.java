package io.drafter.cli;

import picocli.CommandLine.Option;

/** The {@code --compression} option of the commands that send devices ({@code peer}, {@code registry}, {@code mounter}). */
final class CompressionOption {
    @Option(
            names = {"--compression", "-compression"},
            defaultValue = "true",
            arity = "0..1",
            description = "zstd on block data (on unless =false).")
    boolean compression;

    /** Whether block data goes zstd-compressed when the destination agrees. */
    boolean on() {
        return compression;
    }
}
