/**
 * Live migration of a device group: the wire protocol, the transports (TCP, TLS 1.3, shared token) and the source and
 * destination engines. The engines' parts in {@code io.drafter.migration.internal} stay inside.
 */
module io.drafter.migration {
    requires transitive io.drafter.storage;
    requires com.github.luben.zstd_jni;

    exports io.drafter.migration;
    exports io.drafter.migration.destination;
    exports io.drafter.migration.protocol;
    exports io.drafter.migration.source;
    exports io.drafter.migration.transport;
}
