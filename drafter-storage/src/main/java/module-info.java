/**
 * Block devices and the layers stacked on them. The layers a caller assembles itself (sources, dirty tracking,
 * volatility, waiting, freezing) are exported; copy-on-write, metrics and the bitfields are reached through {@code DeviceStack}.
 */
module io.drafter.storage {
    requires io.drafter.base;
    requires com.fasterxml.jackson.databind;

    exports io.drafter.storage;
    exports io.drafter.storage.config;
    exports io.drafter.storage.dirty;
    exports io.drafter.storage.freeze;
    exports io.drafter.storage.source;
    exports io.drafter.storage.volatility;
    exports io.drafter.storage.waiting;
}
