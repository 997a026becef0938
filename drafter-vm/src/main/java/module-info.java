/**
 * The {@code Vmm} interface and its QEMU driver, QMP, the host side of the guest agent and the snapshotter. Jackson
 * reads and writes {@code SnapshotConfig} and QMP messages by reflection.
 */
module io.drafter.vm {
    requires io.drafter.base;
    requires io.drafter.linux;
    requires com.fasterxml.jackson.annotation;
    requires transitive com.fasterxml.jackson.databind; // QMP messages are JsonNodes

    exports io.drafter.vm;
    exports io.drafter.vm.agent;
    exports io.drafter.vm.qemu;
    exports io.drafter.vm.qmp;
    exports io.drafter.vm.snapshot;

    opens io.drafter.vm to
            com.fasterxml.jackson.databind;
    opens io.drafter.vm.qmp to
            com.fasterxml.jackson.databind;
}
