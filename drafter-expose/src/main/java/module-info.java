/** Block devices exposed as files: a FUSE file system spoken directly over {@code /dev/fuse}. */
module io.drafter.expose {
    requires io.drafter.linux;
    requires transitive io.drafter.storage;

    exports io.drafter.expose.fuse;
}
