package io.drafter.vm;

import java.nio.file.Path;
import java.time.Duration;

/**
 * A running VM process. Threading: one controlling thread at a time; {@link #close()} may be called
 * from any thread and is idempotent. Closing ends the VMM process this instance started.
 */
public interface VmInstance extends AutoCloseable {
    /** PID of the VMM process. */
    long pid();

    /** The accelerator actually in use. */
    Accel accel();

    /** The config the VM runs with. */
    VmConfig config();

    /** Waits for the guest's liveness signal (workload up). */
    void awaitReady(Duration timeout) throws VmException;

    /**
     * Snapshots the VM: guest agent {@code BeforeSuspend}, a first flush of guest RAM while the VM still runs, pause,
     * then flush guest RAM to the memory file (only what the last moments dirtied) and, meanwhile, write device state
     * (without RAM) to {@code stateFile}. The VM stays paused; close it afterwards.
     */
    SnapshotResult snapshot(Path stateFile, Duration timeout) throws VmException;

    /**
     * The part of {@link #snapshot} that runs with the VM running: guest agent {@code BeforeSuspend} and a first flush
     * of guest RAM. A {@link #snapshot} right after it skips them (and reports this call's time as theirs); {@link
     * #cont()} or {@link #afterResume} in between ends the preparation. Default: nothing, {@link #snapshot} does all.
     */
    default void prepareSnapshot(Duration timeout) throws VmException {}

    /**
     * Loads the device state from {@code stateFile} into a VM started with {@link Vmm#startDeferred}; its vCPUs stay
     * stopped until {@link #cont()}.
     *
     * @throws IllegalStateException if this VM was booted, or its state is loaded already
     */
    void loadState(Path stateFile) throws VmException;

    /**
     * As {@link #loadState(Path)}, from {@code state}: read by this process (a state device read directly, not through
     * its mount) and handed to the VMM, which may have been waiting for it since {@link Vmm#startDeferred}.
     *
     * @throws IllegalStateException if this VM was booted, or its state is loaded already
     */
    void loadState(StateSource state) throws VmException;

    /** Pauses the vCPUs. */
    void pause() throws VmException;

    /** Resumes the vCPUs. */
    void cont() throws VmException;

    /** Flushes guest RAM pages dirtied through QEMU's shared mapping to the memory file. */
    void flushMemory() throws VmException;

    /** Calls the guest agent's {@code AfterResume} with the host's current time. */
    void afterResume(Duration timeout) throws VmException;

    /** The last {@code lines} lines of the serial console log. */
    String consoleTail(int lines);

    /** Whether the VMM process is still running. */
    boolean isAlive();

    @Override
    void close();

    /**
     * What a snapshot produced and how long its steps took.
     *
     * @param stateFile the device-state file
     * @param stateBytes its size
     * @param beforeSuspend time of the agent call
     * @param pauseToSaved time from pause until guest RAM was flushed and the state saved (guest downtime so far)
     * @param pauseToFlushed time from pause until guest RAM was flushed to the memory file
     * @param pauseToStateSaved time from pause until the device state was saved, which may overlap the flush
     */
    record SnapshotResult(
            Path stateFile,
            long stateBytes,
            Duration beforeSuspend,
            Duration pauseToSaved,
            Duration pauseToFlushed,
            Duration pauseToStateSaved) {}
}
