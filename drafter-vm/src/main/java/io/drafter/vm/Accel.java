package io.drafter.vm;

/** The accelerator a VM runs under. */
public enum Accel {
    /** Probe: KVM when a guest actually boots under it here, else TCG. */
    AUTO,
    /** Hardware virtualisation through /dev/kvm. */
    KVM,
    /** QEMU's binary translator: slower, works everywhere. */
    TCG;

    /** The value of QEMU's {@code -accel} option. */
    public String qemuName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
