/**
 * A peer: runs a VM from package devices served over FUSE, live-migrates it to and from other peers, and serves its
 * metrics.
 */
module io.drafter.peer {
    requires io.drafter.base;
    requires io.drafter.linux;
    requires transitive io.drafter.expose;
    requires transitive io.drafter.migration;
    requires transitive io.drafter.net;
    requires transitive io.drafter.storage;
    requires transitive io.drafter.vm;
    requires io.prometheus.metrics.core;
    requires io.prometheus.metrics.exporter.httpserver;
    requires io.prometheus.writer.text; // io.prometheus.metrics.expositionformats
    requires io.prometheus.metrics.instrumentation.jvm;
    requires io.prometheus.metrics.model;

    exports io.drafter.peer;
}
