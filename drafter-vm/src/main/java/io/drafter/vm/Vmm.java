package io.drafter.vm;

import java.nio.file.Path;
import java.util.Optional;

/** A virtual machine monitor driver: boots VMs and resumes them from a snapshot. */
public interface Vmm {
    /** Starts a VM that boots {@code config}'s kernel; returns once the VMM answers its control socket. */
    VmInstance boot(VmConfig config) throws VmException;

    /**
     * Starts a VM from a snapshot: device state from {@code stateFile}, RAM from {@code
     * config.memoryFile()} (the memory file of the snapshot, used in place, shared). Returns a running VM
     * whose guest agent has completed {@code AfterResume}.
     */
    VmInstance resume(VmConfig config, Path stateFile) throws VmException;

    /**
     * Starts a VM from a snapshot as {@link #resume} does, but with its vCPUs stopped: the guest does not run until
     * {@link VmInstance#cont()}, then {@link VmInstance#afterResume}. Closing a prepared VM leaves its devices as they
     * were.
     */
    VmInstance prepare(VmConfig config, Path stateFile) throws VmException;

    /**
     * Starts the VMM for a resume whose device state is not there yet: the slow part of {@link #prepare}, done ahead.
     * It reads the kernel (and initrd) and opens the drives and the memory file, but touches neither guest RAM nor
     * the drives' contents; {@link VmInstance#loadState} then loads the state, and {@link VmInstance#cont()} runs it.
     * Closing such a VM leaves its devices as they were.
     */
    VmInstance startDeferred(VmConfig config) throws VmException;

    /**
     * The user the VMM process runs as once it has opened its devices, or empty when it stays root: the owner that
     * device files it opens later must have.
     */
    default Optional<VmmUser> user() {
        return Optional.empty();
    }
}
